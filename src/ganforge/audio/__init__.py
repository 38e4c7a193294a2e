"""The audio wing: GANs on short sound clips (a waveform GAN and a log-mel spectrogram GAN), the
``spoken-digits`` built-in, an inaudible watermark, evaluation in a spoken-digit classifier's embedding."""

USES: tuple[str, ...] = ()
