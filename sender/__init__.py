"""Sender service: REST upload, GAN inversion, semantic editing and streaming of the edited latent."""
