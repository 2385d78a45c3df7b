"""Channel emulator service: applies AWGN or Rayleigh block fading to streamed latent frames."""
