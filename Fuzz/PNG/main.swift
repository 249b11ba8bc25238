import MGFuzzImageDecoding

// PNG inputs (seeds in Fuzz/Corpus/PNG) through the shared image-decoding harness.
try ImageDecodingHarness.run()
