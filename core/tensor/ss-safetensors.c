/* ss-safetensors.c: safetensors reader/writer (to be written). */
