"""Neural generative models of the lecture's second part: autoencoders and the VAE (自编码器,
变分自编码器), and GANs (GAN, conditional GAN, DCGAN).

- :mod:`~course_utils.neural.layers`: the one MLP builder both use;
- :mod:`~course_utils.neural.autoencoders`: the lecture's autoencoders, linear AE / PCA, the VAE;
- :mod:`~course_utils.neural.gan`: generators, discriminators, the 2-D mixture and mode coverage.
"""
