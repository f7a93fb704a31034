// Tests in one assembly run one class at a time: the machine has two cores, and kernels use both.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]
