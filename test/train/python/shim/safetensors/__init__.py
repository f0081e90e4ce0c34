"""A minimal stand-in for the `safetensors` package (absent from Debian), for the freezing tests.

Put on PYTHONPATH only when `import safetensors` fails. It implements the one call the README's
snippet makes, `safetensors.torch.load_file`, from the file format: 8-byte little-endian header
length, a JSON header {name: {dtype, shape, data_offsets}}, then the data.
"""
