"""The machine's kernels: what this CPU runs fast, every ``auto`` decision taken from that, and the kernels.

Ground floor: nothing here imports a stage of the pipeline. The probe (:mod:`sycl.kernels.probe`)
times candidate kernels against fp32 once per CPU model and torch version; the stages ask this
package which precision, generator dtype, search path and dropout to use instead of deciding
themselves.
"""
