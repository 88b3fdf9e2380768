# %% [markdown]
# # 1. Flow graphs: fprop, bprop and the chain rule
#
# The lecture writes a network with $L$ hidden layers as
#
# $$\mathbf{a}^{(k)}(\mathbf{x}) = \mathbf{b}^{(k)} + \mathbf{W}^{(k)} \mathbf{h}^{(k-1)}(\mathbf{x}), \qquad
# \mathbf{h}^{(k)}(\mathbf{x}) = \mathbf{g}(\mathbf{a}^{(k)}(\mathbf{x})), \qquad
# \mathbf{f}(\mathbf{x}) = \mathbf{o}(\mathbf{a}^{(L+1)}(\mathbf{x})), \qquad \mathbf{h}^{(0)}(\mathbf{x}) = \mathbf{x}$$
#
# and says: *forward propagation can be represented as an acyclic flow graph*. Each **box** is an
# object with an `fprop` method, which computes the box's value from its children, and a `bprop`
# method, which computes the gradient of the loss with respect to each child. Calling fprop on each
# box in topological order is forward propagation; calling bprop in the reverse order is
# backpropagation, which *only needs to reach the parameters*.
#
# In flowgraph that is all there is: boxes (`fg.Linear`, `fg.Tanh`, `fg.SoftmaxCrossEntropy`, ...),
# leaves (`fg.Input` for data, `fg.Parameter` for $\boldsymbol\theta$) and a `fg.Graph` that orders
# the nodes and accumulates gradients.

# %%
import matplotlib.pyplot as plt
import numpy as np

import flowgraph as fg

rng = np.random.default_rng(0)

# %% [markdown]
# ## Building a graph box by box
#
# One hidden layer of 3 tanh units on 2-d inputs, 2 classes. Calling a box on nodes makes a new
# node; the Linear box takes its children in the order $(\mathbf{h}^{(k-1)}, \mathbf{W}^{(k)}, \mathbf{b}^{(k)})$
# with $\mathbf{W}^{(k)}$ of shape $(H_k, H_{k-1})$, so that $W^{(k)}_{i,j}$ joins unit $i$ of layer $k$ to unit $j$
# of layer $k-1$.

# %%
x, y = fg.Input("x"), fg.Input("y")
W1 = fg.Parameter(fg.init.glorot_uniform((3, 2), rng, dtype=np.float64), "W1")
b1 = fg.Parameter(np.zeros(3), "b1")
W2 = fg.Parameter(fg.init.glorot_uniform((2, 3), rng, dtype=np.float64), "W2")
b2 = fg.Parameter(np.zeros(2), "b2")

a1 = fg.Linear()(x, W1, b1, name="a1")  # a(1) = b(1) + W(1) x
h1 = fg.Tanh()(a1, name="h1")  # h(1) = tanh(a(1))
a2 = fg.Linear()(h1, W2, b2, name="a2")  # a(2) = b(2) + W(2) h(1)
loss = fg.SoftmaxCrossEntropy()(a2, y, name="loss")  # -log softmax(a(2))_y

graph = fg.Graph(loss)
graph

# %% [markdown]
# The graph sorted its nodes once, children before parents. That list is the fprop order; bprop
# walks it backwards.

# %%
print("fprop order:", [n.name for n in graph.order])
print("parameters: ", [p.name for p in graph.parameters])

# %% [markdown]
# ## Forward propagation
#
# A mini-batch of $N = 4$ examples is fed to the inputs. `graph.fprop` calls every box's fprop
# in order and returns the loss $\frac{1}{N}\sum_t -\log f(\mathbf{x}^{(t)})_{y^{(t)}}$.

# %%
X = rng.normal(size=(4, 2))
Y = np.array([0, 1, 1, 0])
feed = {x: X, y: Y}
print("loss =", graph.fprop(feed))

# %% [markdown]
# What `fprop` does is nothing more than this loop (written out here only to show it; the graph
# does it for you):

# %%
x.value, y.value = X, Y
for node in graph.order:
    if node.box is not None:
        node.value = node.box.fprop(*[child.value for child in node.children])
        print(f"{node.name:5s} = {type(node.box).__name__}{tuple(c.name for c in node.children)}"
              f"  -> shape {np.shape(node.value)}")
print("loss =", loss.value)

# %% [markdown]
# ## Backpropagation
#
# `graph.bprop()` seeds the loss's gradient with 1 and calls each box's bprop in reverse order.
# Each bprop returns one gradient per child; the graph **adds** it into the child's `.grad`.
# Afterwards every parameter holds $\nabla_{\boldsymbol\theta}$ of the loss, with the parameter's shape.

# %%
graph.bprop()
for p in graph.parameters:
    print(f"{p.name}: value shape {p.value.shape}, grad shape {p.grad.shape}, "
          f"|grad| = {np.linalg.norm(p.grad):.4f}")

# %% [markdown]
# The picture below shows each node's value (after fprop) and gradient (after bprop); arrows go
# the way fprop goes and are labelled with the shape of the array that flows along them. Inputs
# are blue, parameters yellow, boxes grey, the output purple; each layer is drawn as a cluster.

# %% tags=["readme-graph"]
fg.to_dot(graph, values=True, grads=True, order=True)

# %% [markdown]
# ## The chain rule's sum over parents: a weight used twice
#
# The lecture's chain rule: if $p(a)$ can be written as a function of intermediate results $q_i(a)$,
#
# $$\frac{\partial p(a)}{\partial a} = \sum_i \frac{\partial p(a)}{\partial q_i(a)} \frac{\partial q_i(a)}{\partial a}.$$
#
# In a flow graph the $q_i$ are the **parents** of the node $a$: each parent's bprop sends back
# one term of the sum, and the graph adds them up. Regularisation makes this concrete: with
# $\lambda\,\Omega(\boldsymbol\theta)$, $\Omega = \sum_k \|\mathbf{W}^{(k)}\|_F^2$, the weights are children of
# both their Linear box and the L2 penalty box:
#
# $$\nabla_{\mathbf{W}^{(k)}} \Big( -\log f(\mathbf{x})_y + \lambda \Omega(\boldsymbol\theta) \Big)
#   = \underbrace{\nabla_{\mathbf{W}^{(k)}} -\log f(\mathbf{x})_y}_{\text{from the Linear box}}
#   + \underbrace{2 \lambda \mathbf{W}^{(k)}}_{\text{from the L2 box}}$$

# %%
lam = 0.1
nll = fg.SoftmaxCrossEntropy()(a2, y, name="nll")
omega = fg.L2Penalty()(W1, W2, name="omega")
reg_loss = fg.Add()(nll, fg.Scale(lam)(omega, name="lambda_omega"), name="loss")
reg_graph = fg.Graph(reg_loss)
reg_graph.fprop(feed)
reg_graph.bprop()
reg_graph

# %% [markdown]
# W1 now has two parents (the Linear box `a1` and the penalty `omega`). Its gradient is the sum
# of what each sends back: the gradient without the penalty (the first graph) plus $2\lambda\mathbf{W}^{(1)}$.

# %%
graph.fprop(feed)
graph.bprop()
from_linear = W1.grad.copy()  # the unregularised graph: one parent
reg_graph.fprop(feed)
reg_graph.bprop()
from_penalty = 2 * lam * W1.value
print("from the Linear box:\n", from_linear)
print("from the L2 box, 2 lambda W1:\n", from_penalty)
print("sum of the two:\n", from_linear + from_penalty)
print("what bprop accumulated in W1.grad:\n", W1.grad)
print("equal:", np.allclose(W1.grad, from_linear + from_penalty))

# %% [markdown]
# The same sum on the smallest possible graph: one scalar parameter $a$ used by two boxes,
# $p(a) = q_1(a) + q_2(a)$ with $q_1 = \tanh(a)$ and $q_2 = 3a$, so that
# $\partial p / \partial a = (1 - \tanh^2 a) + 3$. We sweep $a$ and plot each parent's term and the
# total that bprop returns.

# %%
a = fg.Parameter(np.zeros((1, 1)), "a")
p = fg.Add()(fg.Tanh()(a, name="q1"), fg.Scale(3.0)(a, name="q2"), name="p")
tiny = fg.Graph(p)
grid = np.linspace(-3, 3, 61)
total = []
for v in grid:
    a.value = np.array([[v]])
    tiny.fprop({})
    tiny.bprop()
    total.append(a.grad.item())

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(grid, 1 - np.tanh(grid) ** 2, label=r"$\partial q_1/\partial a = 1 - \tanh^2 a$")
ax.plot(grid, np.full_like(grid, 3.0), label=r"$\partial q_2/\partial a = 3$")
ax.plot(grid, total, "k--", lw=2, label=r"bprop: $\partial p/\partial a$ (the sum)")
ax.set(xlabel="$a$", ylabel="derivative", title="a node with two parents receives the sum")
ax.legend(frameon=False)
tiny

# %% [markdown]
# ## Checking the gradients
#
# Whatever the graph, `fg.check_graph` compares every parameter's gradient with the central
# difference $\frac{\partial f(x)}{\partial x} \approx \frac{f(x+\epsilon) - f(x-\epsilon)}{2\epsilon}$ and checks every
# box on its own with the values it saw during fprop (notebook 2 looks at this closely).

# %%
report = fg.check_graph(reg_graph, feed)
print(report)
assert report.ok

# %% [markdown]
# ## What to remember
#
# * A box is math only: `fprop(children) -> value`, `bprop(children, value, grad) -> one gradient per child`.
# * The graph orders the boxes once; fprop runs the order forwards, bprop backwards.
# * A node used by several boxes receives the **sum** of their gradients: the chain rule.
