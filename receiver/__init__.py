"""Receiver service: decodes noisy latent frames into the edited image with the StyleGAN generator."""
