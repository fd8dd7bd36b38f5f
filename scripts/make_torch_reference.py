"""Write tests/data/torch_reference.npz: torch.optim trajectories and LR schedules.

Run from the repository root with PyTorch installed (not a test dependency):

    python scripts/make_torch_reference.py

Every optimizer case runs one float64 parameter tensor of shape (2,) through
``torch.optim`` (single-tensor path, ``foreach=False``). The gradient comes from
the same Python arithmetic as the engine's surface (``grad.py_func``), so the
file checks the update rules and not the surfaces. Schedules record
``param_groups[0]["lr"]`` before each ``scheduler.step()``, which is η(t) of
step t. ``tests/test_torch_reference.py`` reads the file without torch: each
case stores the ``simulate`` or ``learning_rates`` arguments that should give
the same numbers. Torch's Nesterov iterates are the engine's look-ahead points
θ − γv, which that test rebuilds from the engine's path.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from landscapes import get_surface  # noqa: E402

OUTPUT = ROOT / "tests" / "data" / "torch_reference.npz"
STEPS = 500

# Rosenbrock amplifies rounding differences once a run oscillates across its
# valley, so each rate keeps the run on the smooth part of the valley for 500
# steps. The ravine uses its default κ = 50.
STARTS = {"rosenbrock": (-1.2, 1.0), "ravine": (-5.0, 1.5)}

# (name, engine optimizer, engine arguments) per surface; torch_optimizer maps them.
OPTIMIZER_CASES = {
    "rosenbrock": [
        ("sgd", "sgd", {"lr": 2e-4}),
        ("sgd_l2", "sgd", {"lr": 2e-4, "weight_decay": 0.05}),
        ("momentum", "momentum", {"lr": 1e-4, "momentum": 0.9}),
        ("nesterov", "nesterov", {"lr": 1e-4, "momentum": 0.9}),
        ("rmsprop", "rmsprop", {"lr": 1e-3, "beta2": 0.99, "eps": 1e-8}),
        ("adagrad", "adagrad", {"lr": 0.05, "eps": 1e-10}),
        ("adam", "adam", {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
        ("adam_l2", "adam", {"lr": 1e-3, "weight_decay": 0.1, "eps": 1e-8}),
        ("adam_beta1_low", "adam", {"lr": 1e-3, "beta1": 0.3, "eps": 1e-8}),
        ("adamw", "adamw", {"lr": 1e-3, "weight_decay": 0.5, "eps": 1e-8}),
    ],
    "ravine": [
        ("sgd", "sgd", {"lr": 0.01}),
        ("sgd_l2", "sgd", {"lr": 0.01, "weight_decay": 0.5}),
        ("momentum", "momentum", {"lr": 0.005, "momentum": 0.8}),
        ("nesterov", "nesterov", {"lr": 0.005, "momentum": 0.8}),
        ("rmsprop", "rmsprop", {"lr": 0.01, "beta2": 0.9, "eps": 1e-8}),
        ("adagrad", "adagrad", {"lr": 0.5, "eps": 1e-10}),
        ("adam", "adam", {"lr": 0.02, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
        ("adam_l2", "adam", {"lr": 0.02, "weight_decay": 0.1, "eps": 1e-8}),
        ("adam_beta1_low", "adam", {"lr": 0.02, "beta1": 0.3, "eps": 1e-8}),
        ("adamw", "adamw", {"lr": 0.02, "weight_decay": 0.5, "eps": 1e-8}),
    ],
}


def torch_optimizer(optimizer: str, settings: dict, param: torch.Tensor):
    """Build the torch.optim optimizer that matches one engine configuration."""
    lr = settings["lr"]
    decay = settings.get("weight_decay", 0.0)
    if optimizer == "sgd":
        return torch.optim.SGD([param], lr=lr, weight_decay=decay, foreach=False)
    if optimizer in ("momentum", "nesterov"):
        return torch.optim.SGD(
            [param],
            lr=lr,
            momentum=settings["momentum"],
            nesterov=optimizer == "nesterov",
            foreach=False,
        )
    if optimizer == "rmsprop":
        return torch.optim.RMSprop(
            [param],
            lr=lr,
            alpha=settings["beta2"],
            eps=settings["eps"],
            weight_decay=decay,
            foreach=False,
        )
    if optimizer == "adagrad":
        return torch.optim.Adagrad(
            [param], lr=lr, eps=settings["eps"], weight_decay=decay, foreach=False
        )
    betas = (settings.get("beta1", 0.9), settings.get("beta2", 0.999))
    kind = torch.optim.AdamW if optimizer == "adamw" else torch.optim.Adam
    return kind(
        [param],
        lr=lr,
        betas=betas,
        eps=settings["eps"],
        weight_decay=decay,
        foreach=False,
    )


def torch_trajectory(surface_key: str, optimizer: str, settings: dict) -> np.ndarray:
    """Return the (STEPS + 1, 2) positions of one torch.optim run."""
    surface = get_surface(surface_key)
    p = surface.pack()
    gradient = surface.grad.py_func
    param = torch.tensor(STARTS[surface_key], dtype=torch.float64)
    opt = torch_optimizer(optimizer, settings, param)
    path = [param.tolist()]
    for _ in range(STEPS):
        x, y = param.tolist()
        gx, gy = gradient(x, y, p)
        param.grad = torch.tensor([gx, gy], dtype=torch.float64)
        opt.step()
        path.append(param.tolist())
    return np.array(path)


def torch_rates(steps: int, make_scheduler) -> np.ndarray:
    """Return η(t) for t = 0 … steps − 1 of a scheduler on a dummy SGD optimizer."""
    param = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([param], lr=BASE_LR)
    scheduler = make_scheduler(opt)
    rates = []
    for _ in range(steps):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return np.array(rates)


BASE_LR = 0.1
LR = torch.optim.lr_scheduler

# (name, steps, torch scheduler factory, engine learning_rates arguments).
SCHEDULE_CASES = [
    (
        "step",
        400,
        lambda o: LR.StepLR(o, step_size=60, gamma=0.5),
        {"schedule": "step", "step_size": 60, "step_factor": 0.5},
    ),
    (
        "exponential",
        400,
        lambda o: LR.ExponentialLR(o, gamma=0.99),
        {"schedule": "exponential", "decay_rate": 0.99},
    ),
    (
        "cosine",
        400,
        lambda o: LR.CosineAnnealingLR(o, T_max=400, eta_min=1e-3),
        {"schedule": "cosine", "lr_min": 1e-3},
    ),
    (
        "cosine_restarts_mult1",
        400,
        lambda o: LR.CosineAnnealingWarmRestarts(o, T_0=70, T_mult=1, eta_min=1e-3),
        {
            "schedule": "cosine_restarts",
            "restart_period": 70,
            "restart_mult": 1,
            "lr_min": 1e-3,
        },
    ),
    (
        "cosine_restarts_mult2",
        400,
        lambda o: LR.CosineAnnealingWarmRestarts(o, T_0=20, T_mult=2, eta_min=1e-3),
        {
            "schedule": "cosine_restarts",
            "restart_period": 20,
            "restart_mult": 2,
            "lr_min": 1e-3,
        },
    ),
    (
        # Restarts at t = 1, 4, 13, 40, 121, 364: log(t·2 + 1)/log 3 rounds
        # below the integer at some of them in float64.
        "cosine_restarts_mult3",
        400,
        lambda o: LR.CosineAnnealingWarmRestarts(o, T_0=1, T_mult=3),
        {"schedule": "cosine_restarts", "restart_period": 1, "restart_mult": 3},
    ),
    (
        "one_cycle",
        400,
        lambda o: LR.OneCycleLR(
            o,
            max_lr=BASE_LR,
            total_steps=400,
            pct_start=0.3,
            div_factor=25.0,
            final_div_factor=1e4,
            anneal_strategy="cos",
            cycle_momentum=False,
        ),
        {
            "schedule": "one_cycle",
            "pct_start": 0.3,
            "div_factor": 25.0,
            "final_div_factor": 1e4,
        },
    ),
    (
        "one_cycle_short_rise",
        200,
        lambda o: LR.OneCycleLR(
            o,
            max_lr=BASE_LR,
            total_steps=200,
            pct_start=0.05,
            div_factor=10.0,
            final_div_factor=100.0,
            cycle_momentum=False,
        ),
        {
            "schedule": "one_cycle",
            "pct_start": 0.05,
            "div_factor": 10.0,
            "final_div_factor": 100.0,
        },
    ),
    (
        "linear_warmup",
        200,
        lambda o: LR.LinearLR(o, start_factor=0.01, end_factor=1.0, total_iters=50),
        {"schedule": "constant", "warmup_steps": 50, "warmup_start": 0.01},
    ),
]


def main() -> None:
    torch.set_default_dtype(torch.float64)
    arrays = {}
    cases = []
    for surface_key, entries in OPTIMIZER_CASES.items():
        for name, optimizer, settings in entries:
            key = f"trajectory/{surface_key}/{name}"
            path = torch_trajectory(surface_key, optimizer, settings)
            if not np.all(np.isfinite(path)):
                raise RuntimeError(f"{key} reached a non-finite position; lower its lr")
            arrays[key] = path
            cases.append(
                {
                    "kind": "trajectory",
                    "key": key,
                    "surface": surface_key,
                    "optimizer": optimizer,
                    "start": list(STARTS[surface_key]),
                    "steps": STEPS,
                    "settings": settings,
                }
            )
    for name, steps, make_scheduler, arguments in SCHEDULE_CASES:
        key = f"schedule/{name}"
        arrays[key] = torch_rates(steps, make_scheduler)
        cases.append(
            {
                "kind": "schedule",
                "key": key,
                "lr": BASE_LR,
                "steps": steps,
                "arguments": arguments,
            }
        )
    meta = {"torch": torch.__version__, "cases": cases}
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUTPUT, meta=np.array(json.dumps(meta)), **arrays)
    size = OUTPUT.stat().st_size
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {len(cases)} cases, {size:,} bytes")


if __name__ == "__main__":
    main()
