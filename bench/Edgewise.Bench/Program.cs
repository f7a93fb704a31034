using BenchmarkDotNet.Running;
using Edgewise.Bench;

if (args.Length > 0 && args[0] == "quick")
{
    QuickBench.Run(args[1..]);
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(MatVecBenchmarks).Assembly).Run(args);
