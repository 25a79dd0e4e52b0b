"""The PyTorch side of the one-cell cross-check in BENCHMARKS.md ("Sweep
memory"): the TinyGPT peer (../shared/peer/tinygpt.py) through the same
stages as the Go cell

    go run ./cmd/sweep -grid xcheck-1cell.toml -workers 1   (grid in BENCHMARKS.md)
    /usr/bin/python3 experiments/data/testdata/xcheck_peer.py ../shared/data/hh-probe/train.jsonl [seed]

Byte tokens (id = byte + 3, pad 0); prompts keep their last 96 tokens,
responses their first 96; the first 400 rows train, the last 100 are the
held-out probe set. TinyGPT d64, 2 heads, 2 layers, max_seq_len 192. SFT on
chosen: 20 epochs, batch 16, Adam 1e-3. DPO β 0.1: 6 epochs, batch 8 pairs,
Adam 1e-3 constant, reference log-probs precomputed once. Probes at step 0
and every 50 steps: chosen and rejected of 100 training pairs, and every
response field of the 100 held-out pairs, in batches of 32 sequences.
One torch thread. Prints one JSON line: stage times (s) and the peak RSS.
"""
import copy, json, os, resource, sys, time
import torch
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'shared', 'peer'))
from tinygpt import TinyGPT, GPTConfig

torch.set_num_threads(1)
path = sys.argv[1]
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
rows = [json.loads(l) for l in open(path)]
train, held = rows[:400], rows[400:500]
FIELDS = [k for k in rows[0] if k != 'prompt']
MAXP = MAXR = 96


def enc_p(s):
    return [b + 3 for b in s.encode('utf-8')][-MAXP:]


def enc_r(s):
    return [b + 3 for b in s.encode('utf-8')][:MAXR]


def batch(prompts, resps):
    T = max(len(p) + len(r) for p, r in zip(prompts, resps))
    ids = torch.zeros(len(prompts), T, dtype=torch.long)
    mask = torch.zeros(len(prompts), T)
    for i, (p, r) in enumerate(zip(prompts, resps)):
        ids[i, :len(p)] = torch.tensor(p)
        ids[i, len(p):len(p) + len(r)] = torch.tensor(r)
        mask[i, len(p):len(p) + len(r)] = 1
    return ids, mask


def seq_lp(model, ids, mask):
    lsm = torch.log_softmax(model(ids)[:, :-1], -1)
    lp = lsm.gather(-1, ids[:, 1:, None])[..., 0]
    return (lp * mask[:, 1:]).sum(1)


def probe_stats(model, ids, mask):
    lsm = torch.log_softmax(model(ids)[:, :-1], -1)
    m = mask[:, 1:]
    lp = (lsm.gather(-1, ids[:, 1:, None])[..., 0] * m).sum(1)
    p = lsm.exp()
    mx = lsm.max(-1).values
    ent = -(p * lsm).sum(-1)
    col = (p * p).sum(-1)
    return lp, (mx * m).sum(1), (ent * m).sum(1), (col * m).sum(1)


def probe(model):
    seqs = [(enc_p(r['prompt']), enc_r(r[f])) for r in train[:100] for f in ('chosen', 'rejected')]
    seqs += [(enc_p(r['prompt']), enc_r(r[f])) for r in held for f in FIELDS if r.get(f)]
    seqs.sort(key=lambda s: len(s[0]) + len(s[1]))
    with torch.no_grad():
        for k in range(0, len(seqs), 32):
            b = seqs[k:k + 32]
            probe_stats(model, *batch([s[0] for s in b], [s[1] for s in b]))


torch.manual_seed(seed)
model = TinyGPT(GPTConfig(vocab_size=259, d_model=64, n_heads=2, n_layers=2, max_seq_len=192))
model.init_weights(torch.Generator().manual_seed(seed))
model = model.float()
g = torch.Generator().manual_seed(seed + 1)
t0 = time.time()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for ep in range(20):
    perm = torch.randperm(len(train), generator=g).tolist()
    for k in range(0, len(perm) - 15, 16):
        b = [train[i] for i in perm[k:k + 16]]
        ids, mask = batch([enc_p(r['prompt']) for r in b], [enc_r(r['chosen']) for r in b])
        loss = -seq_lp(model, ids, mask).sum() / mask[:, 1:].sum()
        opt.zero_grad(); loss.backward(); opt.step()
sft_s = time.time() - t0
t0 = time.time()
ref = copy.deepcopy(model).requires_grad_(False)
with torch.no_grad():
    refc, refr = [], []
    for k in range(0, len(train), 32):
        b = train[k:k + 32]
        P = [enc_p(r['prompt']) for r in b]
        refc += seq_lp(ref, *batch(P, [enc_r(r['chosen']) for r in b])).tolist()
        refr += seq_lp(ref, *batch(P, [enc_r(r['rejected']) for r in b])).tolist()
ref_s = time.time() - t0
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
t0 = time.time()
probe(model)
probe0_s = time.time() - t0
train_s = probe_s = 0.0
step, beta = 0, 0.1
for ep in range(6):
    perm = torch.randperm(len(train), generator=g).tolist()
    for k in range(0, len(perm) - 7, 8):
        t0 = time.time()
        idx = perm[k:k + 8]
        b = [train[i] for i in idx]
        P = [enc_p(r['prompt']) for r in b]
        ids, mask = batch(P + P, [enc_r(r['chosen']) for r in b] + [enc_r(r['rejected']) for r in b])
        lp = seq_lp(model, ids, mask)
        rc = torch.tensor([refc[i] for i in idx])
        rr = torch.tensor([refr[i] for i in idx])
        h = (lp[:8] - rc) - (lp[8:] - rr)
        loss = -torch.nn.functional.logsigmoid(beta * h).mean()
        opt.zero_grad(); loss.backward(); opt.step(); step += 1
        train_s += time.time() - t0
        if step % 50 == 0:
            t0 = time.time()
            probe(model)
            probe_s += time.time() - t0
print(json.dumps({'program': 'xcheck_peer.py', 'torch': torch.__version__, 'steps': step,
                  'sft_s': sft_s, 'ref_logps_s': ref_s, 'probe0_s': probe0_s, 'pref_train_s': train_s,
                  'probe_s': probe_s, 'probe_over_train': probe_s / train_s,
                  'peak_rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
