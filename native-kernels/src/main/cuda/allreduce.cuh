// allreduce: see kernels.cu for the conventions. (being written)
#pragma once
