/* ss-mixer.c: offline and real-time mixing of the project's audio (to be written). */
