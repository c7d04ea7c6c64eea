"""One stacked group of :func:`xpnet.fit_many`: K members of one depth trained as one set of arrays.

Each member is built exactly as it would be alone (``cfg.build``: its network, initialized from
its own seed and initializer, its optimizer, schedule, trainer and early stopping). Its arrays
are padded to the group's widths and stacked; its trainer's generator gives its batch order and
its network's generator its dropout masks, so the bits match its single run. The host keeps each
member's bookkeeping with that member's own objects (history, early stopping, schedule), from one
device->host transfer per epoch for all members. A member that stops is written back into its own
network, finished by its own trainer (restore-best, divergence restore), and dropped from the
stack, so it costs nothing further.
"""

from __future__ import annotations

import math
import time

import numpy as np

from . import many_step
from .history import EarlyStopping
from .many_state import Member, per_model_settings, stack_members
from .validation import to_host

_TAKEN = object()  # the stopper's best state lives in the stacked snapshot
_TOOK = object()
END, STOP = "", "stop"  # why a member leaves: its epochs are done / its early stopping stopped it


class Group:
    """K members (a list of :class:`~xpnet.many_state.Member`) trained together."""

    def __init__(self, members: list[Member], X, y, validation):
        self.members = members
        first = members[0]
        self.data = first.trainer._prepare(X, y, validation, first.stopping, None, None)  # noqa: SLF001
        self.ops = first.net.backend
        self.xp = self.ops.xp
        self.s = stack_members(members)
        self.cfg = first.cfg
        self.done: dict[int, str] = {}
        state_keys = list(first.net.state_dict(copy=False))
        self.state_keys = state_keys
        self.best = {k: self.xp.asarray(v, copy=True) for k, v in self._state().items()}
        for m in members:
            m.stopper = m.stopping or EarlyStopping(patience=None, restore_best=False)
            m.trainer.stopper = m.stopper
            m.history, _ = m.trainer._start(None, m.cfg.epochs, m.stopper)  # noqa: SLF001

    def _state(self) -> dict:
        return {k: self.s.params[k] if k in self.s.params else self.s.buffers[k] for k in self.state_keys}

    # --- one epoch -------------------------------------------------------------------------
    def train_epoch(self):
        """One pass for every member: device ``(K,)`` mean losses and mean gradient norms."""
        xp, members = self.xp, self.members
        Xd, Yd = self.data[0], self.data[1]
        n = Xd.shape[0]
        bs = n if self.cfg.batch_size == 0 else min(self.cfg.batch_size, n)
        perms = None
        if self.cfg.shuffle and bs < n:
            perms = xp.stack([m.trainer.rng.permutation(n) for m in members])
        hp = per_model_settings(members)
        track = any(m.cfg.track_grad_norm for m in members)
        loss_sum = norm_sum = None
        for start in range(0, n, bs):
            stop = min(start + bs, n)
            if perms is None:
                xb, yb = Xd[start:stop, :], Yd[start:stop, :]
            else:
                idx = xp.reshape(perms[:, start:stop], (-1,))
                b = stop - start
                xb = xp.reshape(xp.take(Xd, idx, axis=0), (len(members), b, Xd.shape[1]))
                yb = xp.reshape(xp.take(Yd, idx, axis=0), (len(members), b, Yd.shape[1]))
            value, norm = self.train_step(xb, yb, stop - start, hp, track)
            if norm is not None:
                norm_sum = norm if norm_sum is None else norm_sum + norm
            weighted = value * float(stop - start)
            loss_sum = weighted if loss_sum is None else loss_sum + weighted
        if norm_sum is None:
            norm_sum = xp.zeros(loss_sum.shape, dtype=loss_sum.dtype, device=self.ops.device)
        return loss_sum / float(n), norm_sum / float(-(-n // bs))

    def train_step(self, xb, yb, b: int, hp, track: bool):
        s, ops = self.s, self.ops
        keep = self._keep_masks(b) if s.dropout is not None else None
        z, tape = many_step.forward(s, xb, True, keep)
        _, value, dz = ops.output_loss(s.loss, s.output, z, yb, stacked=True)
        grads = many_step.backward(s, tape, dz)
        many_step.update_batch_stats(s, tape)
        norm = ops.global_norm(grads.values(), stacked=True) if track else None
        if self.cfg.clip is not None:
            grads = many_step.clip(s, grads, self.cfg.clip, hp["clip"])
        self.steps += 1
        many_step.step(s, grads, self.cfg.optimizer, hp, self.steps)
        return value, norm

    steps = 0

    def _keep_masks(self, b: int):
        """Per hidden layer, the ``(K, b, width)`` 0/1 keep masks, each member's from its own generator."""
        xp, dtype, s = self.xp, self.s.dtype, self.s
        masks = []
        for i in range(s.n_hidden):
            width = s.params[f"dense{i}.bias"].shape[-1]
            rows = []
            for m in self.members:
                own = m.widths[i]
                if m.cfg.dropout > 0.0:
                    keep = m.net.rng.bernoulli(1.0 - m.cfg.dropout, (b, own), dtype)
                else:
                    keep = xp.ones((b, own), dtype=dtype, device=self.ops.device)
                if own < width:
                    keep = xp.concat(
                        [keep, xp.ones((b, width - own), dtype=dtype, device=self.ops.device)], axis=1
                    )
                rows.append(keep)
            masks.append(xp.stack(rows))
        # the reference draws layer by layer within each member's stream: members' streams are
        # independent, so drawing member by member inside each layer gives the same bits
        return masks

    def epoch_metrics(self, candidate):
        """Device ``(rows, K)``: train loss, grad norm, finite flag, and (with validation) loss, accuracy."""
        xp = self.xp
        train_loss, grad_norm = self.train_epoch()
        scored = self.s.params if candidate is None else candidate
        flags = [xp.all(xp.isfinite(p), axis=tuple(range(1, p.ndim))) for p in scored.values()]
        finite = xp.astype(xp.all(xp.stack(flags), axis=0), train_loss.dtype)
        metrics = xp.stack([train_loss, grad_norm, finite])
        if self.data[2] is not None:
            metrics = xp.concat([metrics, many_step.eval_metrics(self.s, self.data[2], self.data[3])])
        return metrics

    # --- the run ---------------------------------------------------------------------------
    def epoch(self, epoch: int) -> None:
        """Train every member one epoch and keep its books; who stops is left in ``self.done``."""
        xp, members = self.xp, self.members
        lrs = [m.trainer.optimizer.lr for m in members]
        candidate = None
        if self.data[2] is None:  # scored by the training loss: the parameters the epoch starts from
            candidate = {k: xp.asarray(v, copy=True) for k, v in self._state().items()}
        start = time.perf_counter()
        host = to_host(self.ops.to_numpy(self.epoch_metrics(candidate)), "metrics")  # the one sync
        seconds = time.perf_counter() - start
        taken: list[int] = []
        self.done = {}
        for j, m in enumerate(members):
            why = self._bookkeep(m, epoch, host[:, j], lrs[j], seconds)
            if why == _TOOK:
                taken.append(j)
                why = self._after_update(m, epoch)
            if why is not None:
                self.done[j] = why
        self._snapshot(taken, candidate)

    def active(self) -> dict[int, bool]:
        """Member index -> whether it trained this epoch and was not stopped (early stopping, divergence)."""
        return {m.index: self.done.get(j, END) == END for j, m in enumerate(self.members)}

    def stop(self, indices: set[int], epoch: int) -> None:
        """Stop the members with these indices now (``on_epoch`` asked): they keep their parameters."""
        for j, m in enumerate(self.members):
            if m.index in indices and self.done.get(j, END) == END:
                m.history.stopped_epoch = epoch
                self.done[j] = END

    def compact(self) -> list[Member]:
        """Finish the members that stopped, drop them from the stack; returns the finished ones."""
        if not self.done:
            return []
        xp, members = self.xp, self.members
        for j, why in self.done.items():
            self._finish(j, why)
        keep = [j for j in range(len(members)) if j not in self.done]
        finished = [members[j] for j in self.done]
        self.members = [members[j] for j in keep]
        if keep and len(keep) < len(members):
            idx = xp.asarray(np.asarray(keep, dtype=np.int64), device=self.ops.device)
            self.s.take(idx)
            self.best = {k: xp.take(v, idx, axis=0) for k, v in self.best.items()}
        self.done = {}
        return finished

    def _bookkeep(self, m: Member, epoch: int, row, lr: float, seconds: float):
        """Member ``m``'s epoch on the host, as ``Trainer._epoch_step``: a divergence message, or
        ``_TOOK`` (its snapshot is taken) / the result of :meth:`_after_update`."""
        tl, gn, fin = float(row[0]), float(row[1]), float(row[2])
        val = self.data[2] is not None
        vl, va = (float(row[3]), float(row[4])) if val else (math.nan, math.nan)
        h = m.history
        h.append(epoch, tl, vl, va, lr, gn if m.cfg.track_grad_norm else math.nan, seconds)
        monitored = vl if val else tl
        if not (math.isfinite(tl) and fin == 1.0 and math.isfinite(monitored)):
            return f"training diverged at epoch {epoch} (loss {h.train_loss[-1]})"
        token = object()
        m.stop_now = m.stopper.update(monitored, epoch if val else epoch - 1, None, state=token)
        m.monitored = monitored
        if m.stopper.best_state is token:
            m.stopper.best_state = _TAKEN
            return _TOOK
        return self._after_update(m, epoch)

    def _after_update(self, m: Member, epoch: int):
        h = m.history
        h.best_epoch = m.stopper.best_epoch
        if m.trainer.schedule is not None:
            m.trainer.schedule.step(m.monitored)
        h.stopped_epoch = epoch if m.stop_now else None
        if m.stop_now:
            return STOP
        return END if epoch >= m.cfg.epochs else None

    def _snapshot(self, taken: list[int], candidate) -> None:
        """The best snapshot of the members in ``taken``: the scored parameters (and buffers)."""
        if not taken:
            return
        xp = self.xp
        flags = np.zeros(len(self.members), dtype=bool)
        flags[taken] = True
        scored = self._state() if candidate is None else candidate
        mask = xp.asarray(flags, device=self.ops.device)
        for k, v in scored.items():
            m = xp.reshape(mask, (len(self.members),) + (1,) * (v.ndim - 1))
            self.best[k] = xp.where(m, v, self.best[k])

    def _finish(self, j: int, why) -> None:
        """Write member ``j`` back into its network and let its trainer finish it (restore, divergence)."""
        m = self.members[j]
        m.net.load_state_dict(m.unpad(self._state(), j))
        if m.stopper.best_state is _TAKEN:
            m.stopper.best_state = m.unpad(self.best, j)
        if why not in (END, STOP):
            m.trainer._restore(m.history, why, self.data)  # noqa: SLF001
        else:
            m.trainer._finish(m.history, m.stopper, self.data)  # noqa: SLF001
