"""Independent reference for `sgd-escape landscape` with `landscape.hessian = "lanczos"`: the
largest Hessian eigenvalues of an MLP's mean-square loss at given parameters, from JAX
Hessian-vector products (forward-over-reverse, jit, float64) and scipy's ARPACK `eigsh`
(implicitly restarted Lanczos).

The network is rebuilt from the files sgd-escape wrote: the data set's standardisation from
`landscape.json`, the parameters from `params.json` (W as out x in row-major, then b, layer
by layer), the widths and activation from the arguments. Handled: built-in CSV sets with one
binary output (+1 for the positive class, -1 otherwise) or a one-hot output, and the first N
Fashion-MNIST training images (pixels / 255, one-hot; W4 of bench/README.md).

python3 bench/hessian_jax.py --landscape L/landscape.json --params T/params.json \
    --csv data/sklearn/breast_cancer.csv --skip 1 --sizes 30 512 512 1 --positive 1 --k 10
python3 bench/hessian_jax.py --fashion-mnist 10000 --params target/w4/params.json \
    --sizes 784 256 256 256 10 --activation relu --k 10 --tol 1e-6 --repeats 3

With --linearize the gradient is linearised once (`jax.linearize`) and every HVP reuses it.

Prints JSON per repetition: the k largest eigenvalues (descending), their residuals |Hv - lv|,
the number of HVPs and the wall time of the eigsh call (after one compilation run of the HVP).
"""
import argparse, json, time
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh

parser = argparse.ArgumentParser()
parser.add_argument("--landscape", help="landscape.json: the data's standardisation")
parser.add_argument("--fashion-mnist", type=int, help="use the first N Fashion-MNIST training images")
parser.add_argument("--params", required=True)
parser.add_argument("--csv")
parser.add_argument("--skip", type=int, default=0, help="header lines before the rows")
parser.add_argument("--sizes", type=int, nargs="+", required=True)
parser.add_argument("--activation", default="tanh", choices=["tanh", "relu"])
parser.add_argument("--positive", type=int, nargs="*", help="classes labelled +1 (binary labels); one-hot when absent")
parser.add_argument("--k", type=int, default=10)
parser.add_argument("--tol", type=float, default=1e-10)
parser.add_argument("--repeats", type=int, default=1)
parser.add_argument("--linearize", action="store_true",
                    help="linearise the gradient once (jax.linearize) and reuse it for every HVP")
args = parser.parse_args()

if args.fashion_mnist:
    import gzip
    root = "/usr/share/datasets/fashion-mnist/"
    with gzip.open(root + "train-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 784)[:args.fashion_mnist] / 255.0
    with gzip.open(root + "train-labels-idx1-ubyte.gz") as f:
        label = np.frombuffer(f.read(), dtype=np.uint8, offset=8)[:args.fashion_mnist].astype(int)
else:
    table = np.loadtxt(args.csv, delimiter=",", skiprows=args.skip)
    x, label = table[:, :-1], table[:, -1].astype(int)
    standardization = json.load(open(args.landscape))["data"]["standardization"]
    if standardization is not None:
        x = (x - np.array(standardization["mean"])) * np.array(standardization["inv_std"])
if args.positive:
    y = np.where(np.isin(label, args.positive), 1.0, -1.0)[:, None]
else:
    y = np.eye(label.max() + 1)[label]
X, Y = jnp.asarray(x), jnp.asarray(y)

raw = json.load(open(args.params))
theta = np.asarray(raw["theta"] if isinstance(raw, dict) else raw, dtype=np.float64)
shapes = []
for a, b in zip(args.sizes[:-1], args.sizes[1:]):
    shapes += [(b, a), (b,)]
assert theta.size == sum(int(np.prod(s)) for s in shapes), "the parameter count does not match --sizes"
sigma = jnp.tanh if args.activation == "tanh" else (lambda z: jnp.maximum(z, 0.0))

def unflatten(flat):
    out, o = [], 0
    for s in shapes:
        n = int(np.prod(s))
        out.append(flat[o:o + n].reshape(s))
        o += n
    return out

def loss(flat, x, y):
    params = unflatten(flat)
    h = x
    for i in range(0, len(params), 2):
        h = h @ params[i].T + params[i + 1]
        if i + 2 < len(params):
            h = sigma(h)
    r = h - y
    return 0.5 * jnp.sum(r * r) / x.shape[0]

theta_j = jnp.asarray(theta)
# Everything is an argument of the jitted function (closing over the arrays would make XLA
# constant-fold the forward pass at compile time).
hvp_jit = jax.jit(lambda th, x, y, v: jax.jvp(lambda q: jax.grad(loss)(q, x, y), (th,), (v,))[1])
hvp = lambda v: hvp_jit(theta_j, X, Y, v)
linearize_seconds = 0.0
if args.linearize:
    # The forward and backward passes at theta computed once and kept (as sgd-escape's
    # MlpHessianAt does); each HVP then runs the linearised (tangent) computation only. The
    # linearisation's wall time is added to every repetition's.
    start = time.perf_counter()
    _, grad_tangent = jax.linearize(lambda q: jax.grad(loss)(q, X, Y), theta_j)
    jax.block_until_ready(grad_tangent(jnp.zeros_like(theta_j)))
    linearize_seconds = time.perf_counter() - start
    tangent_jit = jax.jit(grad_tangent)
    hvp = lambda v: tangent_jit(v)
count = [0]

def matvec(v):
    count[0] += 1
    return np.asarray(hvp(jnp.asarray(np.ravel(v))))

matvec(np.ones(theta.size))
op = LinearOperator((theta.size, theta.size), matvec=matvec, dtype=np.float64)
for repetition in range(args.repeats):
    count[0] = 0
    v0 = np.random.default_rng(repetition).uniform(-1.0, 1.0, theta.size)
    start = time.perf_counter()
    values, vectors = eigsh(op, k=args.k, which="LA", tol=args.tol, v0=v0)
    seconds = time.perf_counter() - start + linearize_seconds
    hvps = count[0]
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    residuals = [float(np.linalg.norm(matvec(vectors[:, j]) - values[j] * vectors[:, j])) for j in range(args.k)]
    print(json.dumps({"implementation": "jax+arpack" + (" (linearize)" if args.linearize else ""), "repetition": repetition, "seconds": seconds, "hvps": hvps,
                      "max_residual": max(residuals), "eigenvalues": values.tolist(), "residuals": residuals,
                      "loss": float(loss(theta_j, X, Y)), "jax": jax.__version__}), flush=True)
