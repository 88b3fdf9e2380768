"""Every box, grouped by family, one file each: math only (each file imports the core's Box
and the errors, nothing else). Adding a box is its class in its family's file and its one
line below; the test suite finds every Box subclass by itself and checks it."""

from ..core.box import Box as Box
from .activations import Identity as Identity
from .activations import LeakyReLU as LeakyReLU
from .activations import ReLU as ReLU
from .activations import Sigmoid as Sigmoid
from .activations import Softplus as Softplus
from .activations import Tanh as Tanh
from .arithmetic import Abs as Abs
from .arithmetic import Add as Add
from .arithmetic import Concat as Concat
from .arithmetic import Div as Div
from .arithmetic import Exp as Exp
from .arithmetic import Log as Log
from .arithmetic import MatMul as MatMul
from .arithmetic import Mean as Mean
from .arithmetic import Mul as Mul
from .arithmetic import Neg as Neg
from .arithmetic import Pow as Pow
from .arithmetic import Reshape as Reshape
from .arithmetic import Scale as Scale
from .arithmetic import Square as Square
from .arithmetic import Sub as Sub
from .arithmetic import Sum as Sum
from .arithmetic import Transpose as Transpose
from .arithmetic import unbroadcast as unbroadcast  # (a helper of the broadcasting boxes)
from .conv import AvgPool2d as AvgPool2d
from .conv import Conv2d as Conv2d
from .conv import MaxPool2d as MaxPool2d
from .einsum import Einsum as Einsum
from .elementwise import Clip as Clip
from .elementwise import Compare as Compare
from .elementwise import Cos as Cos
from .elementwise import Maximum as Maximum
from .elementwise import Minimum as Minimum
from .elementwise import Power as Power
from .elementwise import Sin as Sin
from .elementwise import StopGradient as StopGradient
from .elementwise import Where as Where
from .indexing import GetItem as GetItem
from .indexing import OneHot as OneHot
from .indexing import Take as Take
from .indexing import TakeAlongAxis as TakeAlongAxis
from .linear import Linear as Linear
from .losses import CrossEntropy as CrossEntropy
from .losses import Hinge as Hinge
from .losses import SigmoidCrossEntropy as SigmoidCrossEntropy
from .losses import Softmax as Softmax
from .losses import SoftmaxCrossEntropy as SoftmaxCrossEntropy
from .losses import SquaredError as SquaredError
from .losses import softmax as softmax  # (the function, for models and analyses)
from .penalties import L1Penalty as L1Penalty
from .penalties import L2Penalty as L2Penalty
from .reductions import ArgMax as ArgMax
from .reductions import ArgMin as ArgMin
from .reductions import LogSoftmax as LogSoftmax
from .reductions import LogSumExp as LogSumExp
from .reductions import Max as Max
from .reductions import Min as Min
from .reductions import Var as Var
from .shapes import Flatten as Flatten
from .shapes import Permute as Permute
from .shapes import Split as Split
from .shapes import Stack as Stack
from .shapes import SwapAxes as SwapAxes
