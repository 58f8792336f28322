"""Part 7, image generation: diffusion from scratch, the course's digits model in diffusers,
checkpoints checked before loading, and image-model memory.
"""
