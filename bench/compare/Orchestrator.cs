using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Edgewise.Core.Tensors;
using Edgewise.Models;
using Edgewise.Models.Common;
using Edgewise.Models.Synthesis;

namespace Edgewise.Compare;

/// <summary>
/// The parent process: makes sure the E2B-shape files exist, measures read bandwidth, then for each round and
/// each file runs Edgewise and llama.cpp one after the other (which goes first alternates by round), each in a
/// fresh child process, and prints medians, ratios and the decode roofline.
/// </summary>
internal static class Orchestrator
{
    public static int Run(CompareArgs a)
    {
        if (a.Has("help"))
        {
            Console.WriteLine("""
                edgewise-compare run [--rounds 3] [--threads 2] [--arches gemma4,gemma3n] [--dtypes q4_0,q8_0] [--ple-modes mmap]
                                     [--ple-cache 64MB] [--prompt 512] [--gen 128] [--ttft-prompt 16] [--seed 1]
                                     [--weights mmap,repacked,hugepages] [--models DIR] [--out FILE.md] [--llama-mmap] [--no-llama]
                                     [--edgewise PATH/TO/edgewise]
                --weights: mmap = the GGUF mapped, ggml layout (no repack cache); repacked = mapped, Q4_0 and Q8_0
                matrices from the repack cache (built once before the rounds, in DIR/.home/repacked; Edgewise's
                default); hugepages = copied into huge-page memory at load, Q4_0 and Q8_0 interleaved.
                --edgewise: the published CLI (scripts/publish.sh; run.sh passes it). Edgewise's TTFT is then its
                `edgewise bench --json` cold_first_token_ms, in a fresh process, from process start to first token;
                without it, the measuring child's own time from process start.
                """);
            return 0;
        }
        string modelsDir = a.Get("models", Path.Combine(AppContext.BaseDirectory, ".models"));
        int rounds = a.GetInt("rounds", 3), threads = a.GetInt("threads", 2);
        string[] arches = a.Get("arches", "gemma4").Split(',');
        string[] dtypes = a.Get("dtypes", "q4_0,q8_0").Split(',');
        string[] pleModes = a.Get("ple-modes", "mmap").Split(',');
        string[] weightModes = a.Get("weights", "mmap").Split(',');
        ulong seed = ulong.Parse(a.Get("seed", "1"), CultureInfo.InvariantCulture);
        string? cli = a.Get("edgewise", "") is { Length: > 0 } given ? Path.GetFullPath(given) : null;
        if (cli is not null && !File.Exists(cli)) throw new ArgumentException($"--edgewise: no such file '{cli}'; run scripts/publish.sh first.");
        string common = $"--threads {threads} --prompt {a.GetInt("prompt", 512)} --gen {a.GetInt("gen", 128)} --ttft-prompt {a.GetInt("ttft-prompt", 16)}";

        Directory.CreateDirectory(modelsDir);
        var files = new List<string>();
        foreach (string arch in arches)
        {
            foreach (string dtype in dtypes) files.Add(EnsureModel(modelsDir, arch.Trim(), dtype.Trim(), seed));
        }

        if (Array.Exists(weightModes, w => w.Trim() == "repacked"))
        {
            foreach (string file in files)
            {
                // Built once before the rounds, as `edgewise pull` does, so no round pays for it.
                var clock = Stopwatch.StartNew();
                var options = new ModelLoadOptions { Threads = threads, RepackCacheDirectory = Measurement.RepackCacheDirectory(file), WaitForRepackCache = true };
                using (Architectures.Load(file, options)) { }
                Console.WriteLine($"repack cache of {Path.GetFileName(file)} ready ({clock.Elapsed.TotalSeconds:F1} s)");
            }
        }

        string[] bw = RunChild($"bandwidth --threads {threads}", Bandwidth.ResultPrefix).Split(' ');
        double bw1 = double.Parse(bw[0], CultureInfo.InvariantCulture), bwN = double.Parse(bw[1], CultureInfo.InvariantCulture);
        Console.WriteLine($"read bandwidth: {bw1:F1} GB/s on 1 thread, {bwN:F1} GB/s on {threads}");

        string outPath = a.Get("out", Path.Combine(Path.GetDirectoryName(Path.GetFullPath(modelsDir))!, "results", $"compare-{DateTime.UtcNow:yyyyMMdd-HHmm}.md"));
        Directory.CreateDirectory(Path.GetDirectoryName(outPath)!);
        var results = new List<MeasureResult>();
        double? after = null;
        for (int round = 0; round < rounds; round++)
        {
            // The table so far after every round: a long run cut short still leaves medians behind.
            if (round > 0) File.WriteAllText(outPath, Report.Build(results, files, threads, round, bw1, bwN, a.GetInt("prompt", 512), a.GetInt("gen", 128)));
            foreach (string file in files)
            {
                var runs = new List<string>();
                foreach (string weights in weightModes)
                {
                    foreach (string ple in pleModes) runs.Add($"measure --engine edgewise --model \"{file}\" --ple {ple.Trim()} --ple-cache {a.Get("ple-cache", "64MB")} --weights {weights.Trim()} {common}");
                }
                if (!a.Has("no-llama"))
                {
                    string llama = $"measure --engine llama.cpp --model \"{file}\" {common}{(a.Has("llama-mmap") ? " --llama-mmap" : "")}";
                    if (round % 2 == 0) runs.Add(llama);
                    else runs.Insert(0, llama);
                }
                foreach (string run in runs)
                {
                    // The bandwidth of this moment, between the previous run and this one: this VM's bandwidth changes
                    // from one second to the next, so each run is set against the samples on both sides of it.
                    double before = after ?? SampleBandwidth(threads);
                    MeasureResult r = JsonSerializer.Deserialize<MeasureResult>(RunChild(run, Measurement.ResultPrefix))!;
                    after = SampleBandwidth(threads);
                    r = r with { AroundGBps = (before + after.Value) / 2 };
                    string inProcess = "";
                    if (cli is not null && r.Engine == "edgewise")
                    {
                        // What a user waits for: the shipped binary, cold, through the chat session.
                        inProcess = $" (harness child {r.TtftMs:F0} ms)";
                        r = r with { TtftMs = ColdFirstTokenMs(cli, file, threads, a.GetInt("ttft-prompt", 16), Arg(run, "--ple"), a.Get("ple-cache", "64MB"), Arg(run, "--weights")) };
                    }
                    Console.WriteLine($"round {round + 1}/{rounds} {r.Engine,-9} {r.Ple,-8} {r.Model}: prompt {r.PrefillTokPerS:F1} tok/s, decode {r.DecodeTokPerS:F2} tok/s, " +
                        $"TTFT {r.TtftMs:F0} ms{inProcess}, load {r.LoadMs:F0} ms, peak RSS {r.PeakRssBytes / 1048576.0:F0} MiB, bandwidth around it {r.AroundGBps:F1} GB/s");
                    results.Add(r);
                }
            }
        }

        string report = Report.Build(results, files, threads, rounds, bw1, bwN, a.GetInt("prompt", 512), a.GetInt("gen", 128));
        Console.WriteLine();
        Console.WriteLine(report);
        File.WriteAllText(outPath, report);
        Console.WriteLine($"written to {outPath}");
        return 0;
    }

    /// <summary>The median of three <paramref name="threads"/>-thread plain reads, in a child of its own.</summary>
    private static double SampleBandwidth(int threads)
        => double.Parse(RunChild($"bandwidth --threads {threads} --sample", Bandwidth.ResultPrefix), CultureInfo.InvariantCulture);

    /// <summary>The cached file for (arch, E2B shape, dtype, seed), synthesized on first use.</summary>
    private static string EnsureModel(string dir, string arch, string dtype, ulong seed)
    {
        string path = Path.Combine(dir, $"{arch}-e2b-{dtype}-s{seed}.gguf");
        if (File.Exists(path)) return path;
        GgmlType type = dtype switch
        {
            "q4_0" => GgmlType.Q4_0,
            "q8_0" => GgmlType.Q8_0,
            "f16" => GgmlType.F16,
            _ => throw new ArgumentException($"--dtypes: expected q4_0, q8_0 or f16; found '{dtype}'."),
        };
        Console.WriteLine($"synthesizing {path} (once; cached) ...");
        var clock = Stopwatch.StartNew();
        string temp = path + ".tmp";
        switch (arch)
        {
            case "gemma4":
                Gemma4GgufSynthesizer.Write(Gemma4SynthSpec.Preset("e2b") with { Dtype = type, Seed = seed }, temp);
                break;
            case "gemma3n":
                Gemma3nGgufSynthesizer.Write(Gemma3nSynthSpec.Preset("e2b") with { Dtype = type, Seed = seed }, temp);
                break;
            default:
                throw new ArgumentException($"--arches: expected gemma4 or gemma3n; found '{arch}'.");
        }
        File.Move(temp, path, overwrite: true);
        Console.WriteLine($"  {new FileInfo(path).Length / 1073741824.0:F2} GiB in {clock.Elapsed.TotalSeconds:F0} s");
        return path;
    }

    /// <summary>
    /// <c>edgewise bench</c> of the published CLI in a fresh process: milliseconds from that process's start to the
    /// first token of a <paramref name="prompt"/>-token prompt.
    /// </summary>
    private static double ColdFirstTokenMs(string cli, string model, int threads, int prompt, string ple, string pleCache, string weights)
    {
        var start = new ProcessStartInfo(cli)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "bench", model, "--prompt", prompt.ToString(CultureInfo.InvariantCulture), "--gen", "1",
            "--threads", threads.ToString(CultureInfo.InvariantCulture), "--ple", ple, "--ple-cache", pleCache,
            "--weights", weights == "repacked" ? "mmap" : weights, "--repack-cache", weights == "repacked" ? "on" : "off", "--offline", "--json" })
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["EDGEWISE_HOME"] = Measurement.EdgewiseHome(model);
        using Process child = Process.Start(start)!;
        Task<string> stderr = child.StandardError.ReadToEndAsync();
        string json = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        if (child.ExitCode != 0) throw new InvalidOperationException($"'{cli} bench' failed (exit {child.ExitCode}):\n{stderr.Result}");
        using JsonDocument doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("cold_first_token_ms").GetDouble();
    }

    /// <summary>The value after <paramref name="name"/> in a child's argument string.</summary>
    private static string Arg(string arguments, string name)
    {
        string[] parts = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int i = Array.IndexOf(parts, name);
        return i >= 0 && i + 1 < parts.Length ? parts[i + 1] : throw new ArgumentException($"no {name} in '{arguments}'");
    }

    /// <summary>Runs this program again with <paramref name="arguments"/>; returns the text after <paramref name="prefix"/> on its output.</summary>
    private static string RunChild(string arguments, string prefix)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!, $"\"{typeof(Orchestrator).Assembly.Location}\" {arguments}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using Process child = Process.Start(start)!;
        var stderr = new StringBuilder();
        child.ErrorDataReceived += (_, e) => { if (e.Data is not null) stderr.AppendLine(e.Data); };
        child.BeginErrorReadLine();
        string? found = null;
        while (child.StandardOutput.ReadLine() is string line)
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal)) found = line[prefix.Length..];
        }
        child.WaitForExit();
        if (child.ExitCode != 0 || found is null)
        {
            throw new InvalidOperationException($"child '{arguments}' failed (exit {child.ExitCode}):\n{stderr}");
        }
        return found;
    }
}
