import MGFuzzImageDecoding

// JPEG inputs (seeds in Fuzz/Corpus/JPEG) through the shared image-decoding harness.
try ImageDecodingHarness.run()
