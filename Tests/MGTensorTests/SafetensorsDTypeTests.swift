import Testing
@testable import MGTensor

/// Reading `io_dtypes` (Tools/goldens/safetensors_io.py): the same values stored as F32, F16 and
/// BF16, and torch's conversions of them as raw bits. All comparisons are exact (bit patterns).
@Suite struct SafetensorsDTypeTests {
    let golden: Golden
    init() throws { golden = try Golden("io_dtypes") }

    @Test func halfPrecisionTensorsAreMappedInStoredDType() throws {
        for (name, dtype) in [("values_f32", DType.f32), ("values_f16", .f16), ("values_bf16", .bf16)] {
            let tensor = try golden.tensor(name)
            #expect(tensor.dtype == dtype, "\(name)")
            #expect(tensor.shape == [15, 8], "\(name)")
            #expect(tensor.storage.isMemoryMapped, "\(name)")
            #expect(tensor.storage.byteCount == tensor.count * dtype.byteSize, "\(name)")
        }
    }

    /// F16 (subnormals, ±inf, NaN included) and BF16 widen exactly as torch's `.float()`.
    @Test func widenedBitsMatchTorch() throws {
        for (name, expected) in [("values_f16", "f16_to_f32_bits"), ("values_bf16", "bf16_to_f32_bits")] {
            let widened = try golden.tensor(name).asFloat32()
            let reference = try golden.tensor(expected)
            #expect(reference.dtype == .i32)
            #expect(storedBits(widened) == storedBits(reference), "\(name)")
        }
    }

    /// `converted(to:)` rounds F32 to F16/BF16 exactly as torch's `.to(dtype)` (nearest even,
    /// overflow to inf, subnormals). NaN payloads are the one freedom: torch's vectorised BF16 path
    /// writes 0xFFFF for every NaN, ours keeps the sign and sets the quiet bit, so NaNs are only
    /// required to stay NaN.
    @Test func narrowedBitsMatchTorch() throws {
        let source = try golden.tensor("values_f32")
        let isNaN = source.floats().map(\.isNaN)
        #expect(isNaN.filter { $0 }.count == 4)
        for (dtype, expected) in [(DType.f16, "f32_to_f16_bits"), (.bf16, "f32_to_bf16_bits")] {
            let narrowed = try source.converted(to: dtype)
            let actual = storedBits(narrowed), reference = storedBits(try golden.tensor(expected))
            #expect(actual.count == reference.count)
            let nanMask: UInt32 = dtype == .f16 ? 0x7C00 : 0x7F80
            for index in actual.indices {
                if isNaN[index] {
                    let exponentAllOnes = actual[index] & nanMask == nanMask
                    #expect(exponentAllOnes && actual[index] & ~(nanMask | 0x8000) != 0, "\(dtype) NaN at \(index)")
                    if dtype == .f16 { #expect(actual[index] == reference[index], "f16 NaN at \(index)") }
                } else {
                    #expect(actual[index] == reference[index], "\(dtype) element \(index)")
                }
            }
        }
    }

    /// The stored F16/BF16 tensors are torch's conversions, so converting the F32 values again
    /// reproduces the mapped bytes.
    @Test func storedHalfTensorsEqualOwnConversion() throws {
        let source = try golden.tensor("values_f32")
        let nan = source.floats().map(\.isNaN)
        for (dtype, name) in [(DType.f16, "values_f16"), (.bf16, "values_bf16")] {
            let mine = storedBits(try source.converted(to: dtype)), stored = storedBits(try golden.tensor(name))
            #expect(zip(zip(mine, stored), nan).allSatisfy { $0.1 || $0.0.0 == $0.0.1 }, "\(name)")
        }
    }

    @Test func int64TensorIsExact() throws {
        let ids = try golden.tensor("position_ids")
        #expect(ids.dtype == .i64 && ids.shape == [6])
        let values = ids.withUnsafeBytes { Array($0.bindMemory(to: Int64.self)) }
        #expect(values == [0, 1, -1, (1 << 53) + 1, -(1 << 62) - 3, .max])
    }

    @Test func metadataIsRead() throws {
        #expect(golden.file.metadata["generator"] != nil)
        #expect(golden.file.metadata["torch"] != nil)
    }
}
