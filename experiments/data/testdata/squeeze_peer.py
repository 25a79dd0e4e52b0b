"""Check that the synthetic dataset shows the squeezing signature with the
PyTorch peer (../shared/peer/tinygpt.py), independently of the Go pipeline.

    go run ./cmd/inspect data -dataset synthetic -seed 0 -export /tmp/syn.jsonl
    /usr/bin/python3 experiments/data/testdata/squeeze_peer.py /tmp/syn.jsonl [seed] [lr] [d_model] [n_heads] [warmup]

The export holds the 400 training pairs then the 100 held-out ones. Setup
of docs/method.md §9: byte tokens (id = byte + 3, pad 0), TinyGPT d64, 2 heads,
2 layers (or d_model/n_heads given); SFT on chosen 20 epochs (Adam 1e-3,
batch 16); DPO beta 0.1, Adam lr (default 1e-3, linear warm-up of 10 steps), batch 8 pairs, 6 epochs (300
steps), frozen reference. Prints held-out probe metrics every 50 steps and
the change of each probe field's summed log-prob. About 2-3 minutes on one
CPU thread.
"""
import copy, json, os, sys, time
import torch
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'shared', 'peer'))
from tinygpt import TinyGPT, GPTConfig

torch.set_num_threads(1)
path = sys.argv[1]
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
lr = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-3
d_model = int(sys.argv[4]) if len(sys.argv) > 4 else 64
n_heads = int(sys.argv[5]) if len(sys.argv) > 5 else 2
warmup = int(sys.argv[6]) if len(sys.argv) > 6 else 10
rows = [json.loads(l) for l in open(path)]
train, held = rows[:400], rows[400:]
FIELDS = ['chosen', 'rejected', 'chosen_initial', 'chosen_gptsemantic', 'chosen_gptformat',
          'reject_gptsemantic', 'reject_gptformat', 'irr_train', 'irr_test', 'irr_hum',
          'random_permute', 'random_nonhum']


def enc(s):
    return [b + 3 for b in s.encode('utf-8')]


def batch(prompts, resps):
    T = max(len(p) + len(r) for p, r in zip(prompts, resps))
    ids = torch.zeros(len(prompts), T, dtype=torch.long)
    mask = torch.zeros(len(prompts), T)
    for i, (p, r) in enumerate(zip(prompts, resps)):
        ids[i, :len(p)] = torch.tensor(p)
        ids[i, len(p):len(p) + len(r)] = torch.tensor(r)
        mask[i, len(p):len(p) + len(r)] = 1
    return ids, mask


def seq_stats(model, ids, mask):
    lsm = torch.log_softmax(model(ids)[:, :-1], -1)
    lp = lsm.gather(-1, ids[:, 1:, None])[..., 0]
    m = mask[:, 1:]
    mx = lsm.max(-1).values
    return (lp * m).sum(1), (mx * m).sum(1), (mx.exp() * m).sum(1) / m.sum(1), m.sum(1)


def probe(model, rows):
    out = {}
    with torch.no_grad():
        P = [enc(r['prompt']) for r in rows]
        for f in FIELDS:
            lp, amax, top1, _ = seq_stats(model, *batch(P, [enc(r[f]) for r in rows]))
            out[f] = lp.mean().item()
            if f == 'chosen':
                out['argmax'] = amax.mean().item()
                out['top1'] = top1.mean().item()
                out['gap'] = (amax - lp).mean().item()
    return out


def show(o):
    return ' '.join(f'{k}={o[k]:.3f}' if k == 'top1' else f'{k}={o[k]:.1f}'
                    for k in ('chosen', 'rejected', 'argmax', 'gap', 'top1'))


model = TinyGPT(GPTConfig(vocab_size=259, d_model=d_model, n_heads=n_heads, n_layers=2, max_seq_len=64))
model.init_weights(torch.Generator().manual_seed(seed))
model = model.float()
g = torch.Generator().manual_seed(seed + 1)
t0 = time.time()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for ep in range(20):
    perm = torch.randperm(len(train), generator=g).tolist()
    for k in range(0, len(perm), 16):
        b = [train[i] for i in perm[k:k + 16]]
        lp, _, _, n = seq_stats(model, *batch([enc(r['prompt']) for r in b], [enc(r['chosen']) for r in b]))
        loss = -lp.sum() / n.sum()
        opt.zero_grad(); loss.backward(); opt.step()
print(f'SFT {time.time() - t0:.0f}s, last loss {loss.item():.3f}', flush=True)
ref = copy.deepcopy(model).requires_grad_(False)
opt = torch.optim.Adam(model.parameters(), lr=lr)
p0 = probe(model, held)
print('step 0  ', show(p0), flush=True)
step, beta = 0, 0.1
for ep in range(6):
    perm = torch.randperm(len(train), generator=g).tolist()
    for k in range(0, len(perm) - 7, 8):
        b = [train[i] for i in perm[k:k + 8]]
        P = [enc(r['prompt']) for r in b]
        ic, mc = batch(P, [enc(r['chosen']) for r in b])
        ir, mr = batch(P, [enc(r['rejected']) for r in b])
        pc, pr = seq_stats(model, ic, mc)[0], seq_stats(model, ir, mr)[0]
        with torch.no_grad():
            rc, rr = seq_stats(ref, ic, mc)[0], seq_stats(ref, ir, mr)[0]
        h = (pc - rc) - (pr - rr)
        loss = -torch.nn.functional.logsigmoid(beta * h).mean()
        for grp in opt.param_groups:
            grp['lr'] = lr * min(1.0, (step + 1) / max(1, warmup))
        opt.zero_grad(); loss.backward(); opt.step(); step += 1
        if step % 50 == 0:
            print(f'step {step:<3d}', show(probe(model, held)), f'train margin={h.mean().item():.1f}', flush=True)
p1 = probe(model, held)
print('held-out change:', ' '.join(f'{k}={p1[k] - p0[k]:+.2f}' for k in p1))
print(f'total {time.time() - t0:.0f}s')
