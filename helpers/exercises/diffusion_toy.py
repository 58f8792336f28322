"""Checks for the exercises of notebook 15 (diffusion from scratch)."""
import math

from helpers.exercises import check_choice, check_number


def check_alpha_bar(answer, betas, t: int):
    """15 ex. 1: alpha_bar at step ``t`` (0-based) = product of (1 - beta) up to and including t."""
    alphas = [1 - b for b in betas]
    right = math.prod(alphas[: t + 1])
    return check_number(answer, right, rel_tol=0.005, mistakes=[
        (alphas[t], "That is alpha at step t alone: alpha_bar multiplies the alphas of every step up to t."),
        (1 - sum(betas[: t + 1]), "Close, but the survivals multiply, they do not subtract: prod(1 - beta)."),
        (math.prod(alphas[:t]) if t else 1.0, "One step short: include step t itself in the product."),
        (math.sqrt(right), "That is sqrt(alpha_bar), the factor on x0 in add_noise; alpha_bar itself has no root."),
    ])


def check_noisy_point(answer, x0: float, alpha_bar: float, noise: float):
    """15 ex. 2: x_t = sqrt(alpha_bar) x0 + sqrt(1 - alpha_bar) noise."""
    right = math.sqrt(alpha_bar) * x0 + math.sqrt(1 - alpha_bar) * noise
    return check_number(answer, right, rel_tol=0.005, mistakes=[
        (alpha_bar * x0 + (1 - alpha_bar) * noise, "Take square roots: the weights are sqrt(alpha_bar) and "
                                                    "sqrt(1 - alpha_bar), so that the variance stays 1."),
        (math.sqrt(alpha_bar) * x0 + (1 - alpha_bar) * noise, "The noise weight is sqrt(1 - alpha_bar), not 1 - alpha_bar."),
        (x0 + noise, "Noise is not simply added: the data are shrunk by sqrt(alpha_bar) as the noise grows."),
    ])


def check_deterministic_sampler(answer):
    """15 ex. 3: which sampler draws no fresh noise after the starting point ('DDPM' or 'DDIM')?"""
    return check_choice(answer, "DDIM", allowed=("DDPM", "DDIM"), hints={
        "DDPM": "DDPM adds fresh random noise at every step but the last: its path depends on all those draws. "
                "Look at which sampler only uses the starting noise.",
    })
