"""Checks for the exercises of notebook 16 (generate images with the course's diffusion model)."""
from helpers.exercises import check_number
from helpers.images.digits_diffusion import NO_PROMPT, unet_evaluations


def check_unet_evaluations(answer, steps: int, guidance: float):
    """16 ex. 1: UNet evaluations per image for ``steps`` denoising steps at guidance ``guidance``."""
    right = unet_evaluations(steps, guidance)
    mistakes = [(1000, "1000 is the number of noise levels the model was trained on; a sampler visits only "
                       "`steps` of them.")]
    if right == 2 * steps:
        mistakes.insert(0, (steps, "With guidance other than 0 or 1 every step runs the UNet twice: once with "
                                   "the label, once with 'no prompt'."))
        mistakes.append((2 * steps * guidance, "The guidance scale weighs the two predictions; it does not "
                                               "add evaluations."))
    else:
        mistakes.insert(0, (2 * steps, "At guidance 0 or 1 only one of the two predictions is used, so the "
                                       "other need not be computed."))
    return check_number(answer, right, rel_tol=0.0, unit="evaluations", mistakes=mistakes)


def guided_noise(uncond: float, cond: float, guidance: float) -> float:
    """Classifier-free guidance on one number: uncond + guidance * (cond - uncond)."""
    return uncond + guidance * (cond - uncond)


def check_guided_noise(answer, uncond: float, cond: float, guidance: float):
    """16 ex. 2: the guided noise prediction from the 'no prompt' and the 'digit' predictions."""
    return check_number(answer, guided_noise(uncond, cond, guidance), rel_tol=0.001, mistakes=[
        (guidance * cond, "Guidance scales the *difference* between the two predictions, then adds it to the "
                          "'no prompt' one."),
        (guidance * (cond - uncond), "You have the push; add it to the 'no prompt' prediction."),
        (guided_noise(cond, uncond, guidance), "The push goes from 'no prompt' towards the digit: "
                                               "cond - uncond, not uncond - cond."),
        (cond, "That is guidance 1 (the label's prediction alone)."),
    ])


def check_no_prompt_label(answer):
    """16 ex. 3: the class label that asks for no digit in particular."""
    return check_number(answer, NO_PROMPT, rel_tol=0.0, mistakes=[
        (0, "0 asks for the digit zero; the 'no prompt' label is one past the digits."),
        (9, "9 asks for the digit nine; the 'no prompt' label is one past the digits."),
        (11, "The model has 11 labels, numbered from 0."),
    ])


def check_share_without_guidance(answer):
    """16 ex. 4: the share recognised as the requested digit when guidance is 0 (label ignored)."""
    if answer is not None and isinstance(answer, (int, float)) and not isinstance(answer, bool) and answer > 1:
        return check_number(answer, 0.1, rel_tol=0.5, mistakes=[(answer, "Give a share between 0 and 1 "
                                                                          "(0.5 for 50%).")])
    return check_number(answer, 0.1, rel_tol=0.5, mistakes=[
        (0.0, "The images still look like digits, and some are the requested one by chance: which share?"),
        (1.0, "At guidance 0 the label is never used; the model draws whatever digit it likes."),
    ])
