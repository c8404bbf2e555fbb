/* ss-audio-engine.c: PortAudio output and the playback clock (to be written). */
