"""Benchmarks of ONNX Runtime inference on hardware profiles, local or over SSH."""
