using System.CommandLine;
using System.Diagnostics;
using Edgewise.Core.Formats;
using Edgewise.Core.Tensors;
using Edgewise.Models.Conversion;
using Spectre.Console;

namespace Edgewise.Cli.Commands;

/// <summary><c>edgewise quantize IN.gguf OUT.gguf --type q4_k_m</c>: re-quantize a GGUF, streaming tensor by tensor.</summary>
internal static class QuantizeCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("input") { Description = "Source GGUF file (F32/F16/BF16, or already quantized)." };
        var output = new Argument<string>("output") { Description = "GGUF file to write." };
        var type = new Option<string>("--type") { Description = "q4_k_m, q4_0, q8_0 (also f16, bf16, f32).", DefaultValueFactory = _ => "q4_k_m" };
        var pleType = new Option<string?>("--ple-type") { Description = "Type of the per-layer embedding table alone (f32, f16, bf16, q8_0, q4_0, q4_k, q6_k)." };
        var threads = new Option<int>("--threads") { Description = "Encoding threads.", DefaultValueFactory = _ => Environment.ProcessorCount };

        var command = new Command("quantize", "Re-quantize a GGUF model as llama-quantize does (llama.cpp's per-tensor type mix).");
        command.Arguments.Add(input);
        command.Arguments.Add(output);
        foreach (Option o in new Option[] { type, pleType, threads }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            ModelFileType fileType;
            GgmlType? ple;
            try
            {
                fileType = ModelFileTypes.Parse(parse.GetValue(type)!);
                ple = parse.GetValue(pleType) is string p ? ModelFileTypes.ParseTensorType(p) : null;
            }
            catch (ArgumentException ex)
            {
                return ConversionConsole.Fail(ex.Message, 2);
            }
            string source = parse.GetValue(input)!, destination = parse.GetValue(output)!;
            if (!File.Exists(source)) return ConversionConsole.Fail($"No such file: {source}", 2);
            try
            {
                var clock = Stopwatch.StartNew();
                ConversionResult result = ConversionConsole.WithProgress($"quantize {Path.GetFileName(source)} → {ModelFileTypes.Name(fileType)}", progress =>
                    GgufQuantizer.Quantize(source, destination, new QuantizeOptions
                    {
                        Type = fileType, PerLayerEmbeddingType = ple, Threads = parse.GetValue(threads), Progress = progress,
                    }));
                ConversionConsole.Summary(destination, result, new FileInfo(source).Length, clock.Elapsed);
                return 0;
            }
            catch (Exception ex) when (ex is ModelFormatException or NotSupportedException or IOException or ArgumentException)
            {
                return ConversionConsole.Fail(ex.Message, 1);
            }
        });
        return command;
    }
}

/// <summary>Console output shared by convert and quantize: a Spectre progress bar (plain lines when redirected) and a summary.</summary>
internal static class ConversionConsole
{
    public static T WithProgress<T>(string title, Func<IProgress<TensorProgress>, T> work)
    {
        if (Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
        {
            return work(new SynchronousProgress(p =>
            {
                if (p.Index == p.Count || p.Index % 50 == 0) Console.WriteLine($"{p.Index}/{p.Count} tensors, {p.BytesDone / 1048576.0:F0}/{p.BytesTotal / 1048576.0:F0} MiB");
            }));
        }
        return AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                ProgressTask task = context.AddTask(Markup.Escape(title), maxValue: 1);
                var progress = new SynchronousProgress(p =>
                {
                    task.MaxValue = Math.Max(1, p.BytesTotal);
                    task.Value = p.BytesDone;
                    task.Description = Markup.Escape($"{title}  {p.Index}/{p.Count} {p.Name} ({p.Type})");
                });
                return work(progress);
            });
    }

    public static void Summary(string path, ConversionResult result, long inputBytes, TimeSpan elapsed)
    {
        string types = string.Join(", ", result.TypeCounts.Select(kv => $"{kv.Value} {kv.Key}"));
        Console.WriteLine($"wrote {path}: {result.Bytes / 1048576.0:F1} MiB ({inputBytes / 1048576.0:F1} MiB in), {result.Tensors.Count} tensors [{types}] in {elapsed.TotalSeconds:F1} s");
        foreach (string ignored in result.Ignored) Console.Error.WriteLine($"warning: not converted (unknown to the {result.Architecture} converter): {ignored}");
    }

    public static int Fail(string message, int code)
    {
        Console.Error.WriteLine("error: " + message);
        return code;
    }

    /// <summary>Reports on the calling (writer) thread, so the bar moves while the work runs there.</summary>
    private sealed class SynchronousProgress(Action<TensorProgress> report) : IProgress<TensorProgress>
    {
        public void Report(TensorProgress value) => report(value);
    }
}
