using System.CommandLine;
using System.Reflection;

namespace Edgewise.Cli.Commands;

internal static class VersionCommand
{
    public static Command Create()
    {
        var command = new Command("version", "Print the Edgewise version and the SIMD features this machine offers.");
        command.SetAction(_ =>
        {
            var version = typeof(VersionCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
            Console.WriteLine($"edgewise {version}");
            Console.WriteLine($"runtime {Environment.Version}, {Environment.ProcessorCount} cores");
            Console.WriteLine($"Vector512 {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}, Avx2 {System.Runtime.Intrinsics.X86.Avx2.IsSupported}, AvxVnni {System.Runtime.Intrinsics.X86.AvxVnni.IsSupported}, AdvSimd {System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported}");
            return 0;
        });
        return command;
    }
}
