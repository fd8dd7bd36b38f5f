"""The optimizers the engine runs, with their update rules and defaults."""

from collections.abc import Callable
from dataclasses import dataclass

from optimizers import updates

__all__ = ["OPTIMIZERS", "Optimizer"]


@dataclass(frozen=True)
class Optimizer:
    """One optimizer: its compiled update, its rule in LaTeX and its defaults.

    ``uses`` lists the hyperparameters that change its update, so a page can
    show only those controls. ``look_ahead`` means the gradient is taken at
    θ − γv instead of θ.
    """

    key: str
    title: str
    update: Callable
    latex: str
    uses: tuple[str, ...]
    defaults: dict[str, float]
    note: str = ""
    look_ahead: bool = False


OPTIMIZERS = {
    o.key: o
    for o in (
        Optimizer(
            "sgd",
            "SGD",
            updates.sgd_update,
            r"\theta \leftarrow \theta - \eta\,\nabla J(\theta)",
            ("lr",),
            {"lr": 1e-3},
        ),
        Optimizer(
            "momentum",
            "Momentum",
            updates.momentum_update,
            r"v \leftarrow \gamma v + \eta\,\nabla J(\theta),\quad"
            r" \theta \leftarrow \theta - v",
            ("lr", "momentum"),
            {"lr": 1e-3, "momentum": 0.9},
            note="The velocity carries η. PyTorch's SGD keeps η outside "
            "(b ← γb + g, θ ← θ − ηb): the two agree while η is constant, but "
            "here a schedule's change of η reaches the step only gradually.",
        ),
        Optimizer(
            "nesterov",
            "Nesterov",
            updates.momentum_update,
            r"v \leftarrow \gamma v + \eta\,\nabla J(\theta - \gamma v),\quad"
            r" \theta \leftarrow \theta - v",
            ("lr", "momentum"),
            {"lr": 1e-3, "momentum": 0.9},
            note="The gradient is taken at the look-ahead point θ − γv "
            "(Sutskever et al., 2013). PyTorch's nesterov=True uses an "
            "equivalent reparametrised form whose iterates are not the same points.",
            look_ahead=True,
        ),
        Optimizer(
            "adagrad",
            "Adagrad",
            updates.adagrad_update,
            r"G \leftarrow G + g^2,\quad"
            r" \theta \leftarrow \theta - \eta\, g / (\sqrt{G} + \epsilon)",
            ("lr", "eps"),
            {"lr": 0.1},
        ),
        Optimizer(
            "rmsprop",
            "RMSProp",
            updates.rmsprop_update,
            r"v \leftarrow \beta_2 v + (1-\beta_2)\, g^2,\quad"
            r" \theta \leftarrow \theta - \eta\, g / (\sqrt{\hat v} + \epsilon)",
            ("lr", "beta2", "eps"),
            {"lr": 1e-3, "beta2": 0.99},
            note="β2 is the decay of the squared-gradient average (PyTorch's "
            "alpha). With bias correction on, v̂ = v/(1 − β2ᵗ), which makes "
            "RMSProp equal to Adam with β1 = 0; off (PyTorch's form), v̂ = v.",
        ),
        Optimizer(
            "adam",
            "Adam",
            updates.adam_update,
            r"m \leftarrow \beta_1 m + (1-\beta_1) g,\ "
            r"v \leftarrow \beta_2 v + (1-\beta_2) g^2,\ "
            r"\theta \leftarrow \theta - \eta\,\hat m / (\sqrt{\hat v} + \epsilon)",
            ("lr", "beta1", "beta2", "eps"),
            {"lr": 1e-3, "beta2": 0.999},
        ),
        Optimizer(
            "adamw",
            "AdamW",
            updates.adamw_update,
            r"\theta \leftarrow \theta(1 - \eta\lambda),\ \text{then the Adam step}",
            ("lr", "beta1", "beta2", "eps", "weight_decay"),
            {"lr": 1e-3, "beta2": 0.999, "weight_decay": 0.01},
        ),
    )
}

BIAS_CORRECTION_LATEX = (
    r"\hat m = \frac{m}{1-\beta_1^{\,t}},\quad \hat v = \frac{v}{1-\beta_2^{\,t}}"
)
