using BenchmarkDotNet.Running;
using Edgewise.Bench;

if (args.Length > 0 && args[0].StartsWith("quick", StringComparison.Ordinal))
{
    Console.WriteLine($"Avx2 {System.Runtime.Intrinsics.X86.Avx2.IsSupported}, AvxVnni {System.Runtime.Intrinsics.X86.AvxVnni.IsSupported}, " +
        $"Avx512BW {System.Runtime.Intrinsics.X86.Avx512BW.IsSupported}, Vector512 {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}, cores {Environment.ProcessorCount}");
}
if (args.Length > 0 && args[0] == "quick")
{
    QuickBench.Run(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "quick-attention")
{
    AttentionBench.Run(args[1..]);
    return;
}
if (args is ["quick-sparse", ..])
{
    SparseSumBench.Run(args[1..]);
    return;
}
if (args is ["quick-quantize", ..])
{
    QuantizeBench.Run(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "quick-l2")
{
    QuickBench.RunCacheResident(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "quick-batch")
{
    QuickBench.RunBatch(args[1..]);
    return;
}
if (args is ["gemma3n-layers", ..])
{
    Gemma3nLayerProfile.Run(args[1..]);
    return;
}
if (args is ["decode-passes", ..])
{
    DecodePassesBench.Run(args[1..]);
    return;
}
if (args is ["batch-decode", ..])
{
    BatchDecodeBench.Run(args[1..]);
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(MatVecBenchmarks).Assembly).Run(args);
