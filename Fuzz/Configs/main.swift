import Foundation
import MGFuzzSupport
import MGLanguage
import MGPipeline
import MGVision

// Every `config.json`-style decoder, fed the same bytes: Mini-Gemini's (with its language model
// part), the CLIP tower's, the OpenCLIP ConvNeXt's, the bare decoder's and the CLIP preprocessor's.
FuzzDriver.run { bytes in
    let data = Data(bytes)
    _ = try? MiniGeminiConfiguration(jsonData: data)
    if let clip = try? CLIPVisionConfiguration(jsonData: data) { _ = try? clip.validate() }
    if let convNeXt = try? ConvNeXtConfiguration(openCLIPConfigData: data) { _ = try? convNeXt.validate() }
    if let decoder = try? DecoderConfiguration(jsonData: data) { _ = try? decoder.validate() }
    if let preprocessor = try? CLIPPreprocessorConfig(json: data) {
        _ = try? MGMImagePreprocessor(config: preprocessor, imageSizeAux: 64)
    }
}
