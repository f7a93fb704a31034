using BenchmarkDotNet.Running;
using Edgewise.Bench;

if (args is ["gemma3n-layers", ..])
{
    Gemma3nLayerProfile.Run(args[1..]);
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
