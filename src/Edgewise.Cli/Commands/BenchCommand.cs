using System.CommandLine;
using System.Text;
using System.Text.Json;
using Edgewise.Cli.Infrastructure;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.IO;
using Edgewise.Core.Tensors;
using Edgewise.Engine.Sampling;
using Edgewise.Engine.Sessions;
using Edgewise.Hub;

namespace Edgewise.Cli.Commands;

/// <summary>
/// <c>edgewise bench MODEL</c>: prefill and decode speed through the real session path (the same loop a chat runs),
/// on a seeded prompt of ordinary tokens, greedy, with end-of-turn tokens masked so exactly <c>--gen</c> tokens come out.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var command = new Command("bench", "Measure load time, prefill and decode tokens/s, time to first token and peak memory.");
        var model = new ModelOptions();
        var prompt = new Option<int>("--prompt") { Description = "Prompt tokens.", DefaultValueFactory = _ => 512 };
        var gen = new Option<int>("--gen") { Description = "Generated tokens.", DefaultValueFactory = _ => 128 };
        var repetitions = new Option<int>("--repetitions") { Description = "Runs; the best is reported (the first also warms up).", DefaultValueFactory = _ => 1 };
        var json = new Option<bool>("--json") { Description = "Print the results as JSON." };
        model.AddTo(command);
        foreach (Option o in new Option[] { prompt, gen, repetitions, json }) command.Options.Add(o);
        command.SetAction(async (parse, cancellationToken) =>
        {
            int promptTokens = parse.GetValue(prompt), genTokens = parse.GetValue(gen);
            if (promptTokens < 1 || genTokens < 1)
            {
                Console.Error.WriteLine("error: --prompt and --gen must be at least 1.");
                return 2;
            }
            try
            {
                (EdgewiseModel loaded, TimeSpan loadTime) = await model.LoadAsync(parse, Console.Error, cancellationToken, prepareRepackCache: true).ConfigureAwait(false);
                using (loaded)
                {
                    int context = parse.GetValue(model.Context) ?? promptTokens + genTokens + 1;
                    using ChatSession session = loaded.CreateSession(context);
                    BenchResult best = default;
                    TimeSpan coldFirstToken = default;
                    for (int r = 0; r < Math.Max(1, parse.GetValue(repetitions)); r++)
                    {
                        session.Reset();
                        TimeSpan turnStart = ProcessClock.SinceStart();
                        BenchResult run = await RunOnceAsync(session, promptTokens, genTokens, cancellationToken).ConfigureAwait(false);
                        if (r == 0) coldFirstToken = turnStart + run.TimeToFirstToken;
                        if (r == 0 || run.DecodeTokensPerSecond > best.DecodeTokensPerSecond) best = run;
                    }
                    best = best with { ColdFirstToken = coldFirstToken };
                    long? pleBytes = PleBytesPerToken(loaded.SourcePath);
                    Console.Out.WriteLine(parse.GetValue(json)
                        ? Json(loaded, model.Load.Read(parse).Threads, best, loadTime, pleBytes)
                        : Text(loaded, best, loadTime, pleBytes));
                    return 0;
                }
            }
            catch (Exception ex) when (ex is FileNotFoundException or HubException or ContextOverflowException or InvalidDataException or NotSupportedException)
            {
                Console.Error.WriteLine($"error: {ex.Message}");
                return 1;
            }
        });
        return command;
    }

    /// <param name="TimeToFirstToken">From the start of the turn to its first token (prefill included).</param>
    /// <param name="ColdFirstToken">
    /// From the start of this process to the first token of the first run: runtime start-up, argument parsing, JIT,
    /// loading and the first prefill, what a user waits for after typing the command.
    /// </param>
    internal readonly record struct BenchResult(int PromptTokens, int GeneratedTokens, double PrefillTokensPerSecond, double DecodeTokensPerSecond, TimeSpan TimeToFirstToken, TimeSpan ColdFirstToken = default);

    internal static async Task<BenchResult> RunOnceAsync(ChatSession session, int promptTokens, int genTokens, CancellationToken cancellationToken)
    {
        int[] prompt = SeededPrompt(session.Model, promptTokens);
        var mask = session.Model.StopTokens.ToDictionary(id => id, _ => float.NegativeInfinity);
        var options = new GenerationOptions { Sampling = SamplingOptions.Greedy with { LogitBias = mask }, MaxTokens = genTokens };
        GenerationUsage? usage = null;
        await foreach (GenerationUpdate u in session.CompleteTokensAsync(prompt, options, cancellationToken).ConfigureAwait(false))
        {
            if (u.Kind == GenerationUpdateKind.Finished) usage = u.Usage;
        }
        GenerationUsage done = usage!;
        return new BenchResult(done.PromptTokens, done.CompletionTokens, done.PrefillTokensPerSecond, done.DecodeTokensPerSecond, done.TimeToFirstToken);
    }

    /// <summary>bos, then ordinary (non-control) token ids drawn with a fixed seed: the same prompt on every run.</summary>
    private static int[] SeededPrompt(EdgewiseModel model, int length)
    {
        var random = new Random(1234);
        var tokens = new int[length];
        int vocab = model.Tokenizer.VocabularySize;
        tokens[0] = Math.Max(0, model.Tokenizer.BosId);
        for (int i = 1; i < length; i++)
        {
            int id;
            do id = random.Next(vocab); while (model.Tokenizer.IsSpecial(id) || model.IsStopToken(id));
            tokens[i] = id;
        }
        return tokens;
    }

    /// <summary>Bytes of one row of the mapped PLE table: what each token reads from the file (null without PLE).</summary>
    internal static long? PleBytesPerToken(string? path)
    {
        if (path is null || !path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)) return null;
        using GgufFile file = GgufFile.Open(path);
        foreach (GgufTensorInfo t in file.Tensors)
        {
            if (t.Name == "per_layer_token_embd.weight") return GgmlTypeInfo.RowBytes(t.Type, t.Shape[0]);
        }
        return null;
    }

    private static string Text(EdgewiseModel model, BenchResult r, TimeSpan load, long? pleBytes)
    {
        var s = new StringBuilder();
        s.AppendLine($"model            {model.Info.Name} ({model.Info.Architecture}, {model.Info.LayerCount} layers, hidden {model.Info.HiddenSize})");
        s.AppendLine($"load             {load.TotalMilliseconds:F0} ms");
        s.AppendLine($"prefill          {r.PromptTokens} tokens, {r.PrefillTokensPerSecond:F1} tok/s");
        s.AppendLine($"decode           {r.GeneratedTokens} tokens, {r.DecodeTokensPerSecond:F1} tok/s");
        s.AppendLine($"first token      {r.TimeToFirstToken.TotalMilliseconds:F1} ms ({r.ColdFirstToken.TotalMilliseconds:F0} ms after the process started)");
        if (ProcessMemory.PeakResidentBytes() is long peak) s.AppendLine($"peak resident    {PullCommand.FormatSize(peak)}");
        if (ProcessMemory.HugePageResidentBytes() is long huge) s.AppendLine($"in huge pages    {PullCommand.FormatSize(huge)} (mapped or copied weights on 2 MiB pages)");
        if (pleBytes is long ple) s.AppendLine($"PLE read/token   {PullCommand.FormatSize(ple)}");
        return s.ToString().TrimEnd();
    }

    private static string Json(EdgewiseModel model, int threads, BenchResult r, TimeSpan load, long? pleBytes)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("model", model.Info.Name);
            w.WriteString("architecture", model.Info.Architecture);
            w.WriteNumber("threads", threads);
            w.WriteNumber("load_ms", Math.Round(load.TotalMilliseconds, 1));
            w.WriteNumber("prompt_tokens", r.PromptTokens);
            w.WriteNumber("generated_tokens", r.GeneratedTokens);
            w.WriteNumber("prefill_tokens_per_second", Math.Round(r.PrefillTokensPerSecond, 2));
            w.WriteNumber("decode_tokens_per_second", Math.Round(r.DecodeTokensPerSecond, 2));
            w.WriteNumber("time_to_first_token_ms", Math.Round(r.TimeToFirstToken.TotalMilliseconds, 2));
            w.WriteNumber("cold_first_token_ms", Math.Round(r.ColdFirstToken.TotalMilliseconds, 1));
            if (ProcessMemory.PeakResidentBytes() is long peak) w.WriteNumber("peak_resident_bytes", peak);
            else w.WriteNull("peak_resident_bytes");
            if (ProcessMemory.HugePageResidentBytes() is long huge) w.WriteNumber("huge_page_resident_bytes", huge);
            else w.WriteNull("huge_page_resident_bytes");
            if (pleBytes is long ple) w.WriteNumber("ple_bytes_per_token", ple);
            else w.WriteNull("ple_bytes_per_token");
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
