import Foundation
import MGHub
import MGLanguage
import MGPipeline
import MGTensor
import Testing

@testable import mgm

/// `mgm run --model ORG/NAME`: the release and both towers come from the loopback Hub, and the
/// answer is the one of the plain fixture folder and of the PyTorch golden.
@Suite("Hub end to end", .serialized)
struct HubEndToEndTests {
    @Test("a release fetched from the Hub (towers mapped to their repositories) answers as the plain folder")
    func identicalAnswers() async throws {
        let server = try await LoopbackHubServer.start(try HubFixtures.repositories())
        let cacheRoot = try HubFixtures.temporaryCache()
        defer { try? FileManager.default.removeItem(at: cacheRoot) }
        let environment = HubFixtures.environment(server, cache: cacheRoot)
        let resolved = try await ResolvedModel.resolve(
            model: HubFixtures.modelID, visionTower: nil, visionTowerAux: nil, showProgress: false, environment: environment)
        server.clearLog()
        // Everything cached now: offline resolution gives the same folders without a request.
        let offline = try await ResolvedModel.resolve(
            model: HubFixtures.modelID, visionTower: nil, visionTowerAux: nil, showProgress: false,
            environment: HubFixtures.environment(server, cache: cacheRoot, offline: true))
        let log = server.log
        await server.stop()
        #expect(log.isEmpty, "\(log)")
        #expect(offline.folder == resolved.folder && offline.visionTower == resolved.visionTower && offline.visionTowerAux == resolved.visionTowerAux)

        #expect(resolved.folder.path.hasPrefix(cacheRoot.appendingPathComponent("models--YanweiLi--MGM-2B/snapshots").path))
        let clip = try #require(resolved.visionTower)
        let convNeXt = try #require(resolved.visionTowerAux)
        #expect(clip.path.hasPrefix(cacheRoot.appendingPathComponent("models--openai--clip-vit-large-patch14-336/snapshots").path))
        #expect(convNeXt.path.hasPrefix(cacheRoot.appendingPathComponent("models--laion--CLIP-convnext_large_d_320.laion2B-s29B-b131K-ft-soup/snapshots").path))
        let hubModel = try MiniGemini(directory: resolved.folder, options: .init(visionTower: clip, visionTowerAux: convNeXt))
        // The snapshot folder is named by a commit hash; the template comes from the tokenizer.
        #expect(hubModel.template.name == "gemma")
        let plainModel = try MiniGemini(directory: HubFixtures.checkpoints.appendingPathComponent("MGM-2B-tiny"))

        let golden = try SafetensorsFile(contentsOf: HubFixtures.pipelineFixtures.appendingPathComponent("EndToEnd/MGM-2B-tiny--quadrants.safetensors"))
        let question = try #require(golden.metadata["question"])
        let imagePath = HubFixtures.pipelineFixtures.appendingPathComponent("Images/quadrants.png").path
        func run(_ model: MiniGemini) throws -> (ids: [Int], text: String, logits: [Float]) {
            let request = MiniGeminiRequest(
                question: question, images: [try model.decodeImage(contentsOf: URL(fileURLWithPath: imagePath))], parameters: GenerationParameters(maximumTokens: 24))
            let (dump, _) = try model.runRecording(request)
            let logits = try #require(try dump.tensors()["logits_prefill"])
            return (dump.generatedIDs, dump.generatedText, try logits.asFloat32().floats())
        }
        let fromHub = try run(hubModel)
        let fromFolder = try run(plainModel)
        let goldenIDs = try JSONDecoder().decode([Int].self, from: Data(try #require(golden.metadata["generated_ids"]).utf8))
        #expect(fromHub.ids == goldenIDs)
        #expect(fromHub.text == golden.metadata["generated_text"])
        #expect(fromHub.ids == fromFolder.ids && fromHub.text == fromFolder.text)
        #expect(fromHub.logits == fromFolder.logits, "same bytes, same arithmetic: bit-identical logits")
    }

    @Test("mgm download, then mgm run --model ORG/NAME offline, answers as the golden")
    func commandLine() async throws {
        let binary = BoundedProcess.mgm
        try #require(FileManager.default.isExecutableFile(atPath: binary.path), "mgm is not built at \(binary.path)")
        let server = try await LoopbackHubServer.start(try HubFixtures.repositories())
        let cacheRoot = try HubFixtures.temporaryCache()
        defer { try? FileManager.default.removeItem(at: cacheRoot) }
        let environment = ["HF_ENDPOINT": server.endpoint, "HF_HUB_CACHE": cacheRoot.path, "HF_TOKEN": "hf_test_token", "HF_HUB_OFFLINE": "0"]
        let download = try await BoundedProcess.run(binary, ["download", HubFixtures.modelID], environment: environment, seconds: 300)
        #expect(download.status == 0, "\(download.error)")
        let folders = download.output.split(separator: "\n").map(String.init)
        #expect(folders.count == 3 && folders.allSatisfy { $0.hasPrefix(cacheRoot.path) }, "\(download.output)")
        #expect(download.error.contains("files"), "a progress line on standard error: \(download.error)")
        server.clearLog()

        let golden = try SafetensorsFile(contentsOf: HubFixtures.pipelineFixtures.appendingPathComponent("EndToEnd/MGM-2B-tiny--quadrants.safetensors"))
        let question = try #require(golden.metadata["question"])
        let image = HubFixtures.pipelineFixtures.appendingPathComponent("Images/quadrants.png").path
        var offline = environment
        offline["HF_HUB_OFFLINE"] = "1"
        let run = try await BoundedProcess.run(
            binary, ["run", "--model", HubFixtures.modelID, "--image", image, "--temperature", "0", "--max-tokens", "24", "--json", question],
            environment: offline, seconds: 300)
        let log = server.log
        await server.stop()
        #expect(run.status == 0, "\(run.error)")
        #expect(log.isEmpty, "HF_HUB_OFFLINE=1 made requests: \(log)")
        let answer = try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any]
        #expect(answer?["answer"] as? String == golden.metadata["generated_text"])

        // Not cached and offline: one line, exit code 3.
        var empty = offline
        empty["HF_HUB_CACHE"] = cacheRoot.appendingPathComponent("empty").path
        let missing = try await BoundedProcess.run(binary, ["run", "--model", HubFixtures.modelID, "--quiet", "hi"], environment: empty, seconds: 120)
        #expect(missing.status == 3 && missing.error.hasPrefix("mgm: error: ") && missing.error.contains("HF_HUB_OFFLINE"), "\(missing.error)")
    }
}
