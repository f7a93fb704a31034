using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Edgewise.Text.Tokenization;

namespace Edgewise.Cli.Commands;

/// <summary><c>edgewise tokenize MODEL_OR_TOKENIZER_JSON [--text-file F | TEXT] [--json] [--bos] [--bench]</c>.</summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var source = new Argument<string>("model") { Description = "A .gguf model, a tokenizer.json, or a folder holding tokenizer.json." };
        var text = new Argument<string?>("text") { Description = "Text to tokenize (or use --text-file).", Arity = ArgumentArity.ZeroOrOne };
        var textFile = new Option<FileInfo?>("--text-file") { Description = "Read the text from this file (UTF-8)." };
        var json = new Option<bool>("--json") { Description = "Print a JSON array of {id, piece} instead of bare ids." };
        var bos = new Option<bool>("--bos") { Description = "Prepend <bos> (chat templates already emit it)." };
        var bench = new Option<bool>("--bench") { Description = "Time encoding each line of the text instead of printing ids." };
        var rounds = new Option<int>("--rounds") { Description = "Timed passes over the text with --bench.", DefaultValueFactory = _ => 5 };

        var command = new Command("tokenize", "Print the token ids (and pieces) of a text.");
        command.Arguments.Add(source);
        command.Arguments.Add(text);
        command.Options.Add(textFile);
        command.Options.Add(json);
        command.Options.Add(bos);
        command.Options.Add(bench);
        command.Options.Add(rounds);
        command.SetAction(parseResult =>
        {
            FileInfo? file = parseResult.GetValue(textFile);
            string? inline = parseResult.GetValue(text);
            if ((file is null) == (inline is null))
            {
                Console.Error.WriteLine("give either TEXT or --text-file, not both or neither");
                return 2;
            }
            string input = file is not null ? File.ReadAllText(file.FullName, Encoding.UTF8) : inline!;
            GemmaTokenizer tokenizer = GemmaTokenizer.Load(parseResult.GetValue(source)!);
            if (parseResult.GetValue(bench))
                return Bench(tokenizer, input, Math.Max(1, parseResult.GetValue(rounds)));

            int[] ids = tokenizer.Encode(input, parseResult.GetValue(bos));
            if (parseResult.GetValue(json))
                PrintJson(tokenizer, ids);
            else
                Console.WriteLine(string.Join(' ', ids));
            return 0;
        });
        return command;
    }

    private static void PrintJson(GemmaTokenizer tokenizer, int[] ids)
    {
        using var stdout = Console.OpenStandardOutput();
        using var writer = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        writer.WriteStartArray();
        foreach (int id in ids)
        {
            writer.WriteStartObject();
            writer.WriteNumber("id", id);
            writer.WriteString("piece", tokenizer.TokenPiece(id));
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.Flush();
        stdout.WriteByte((byte)'\n');
    }

    /// <summary>
    /// Encodes every non-empty line separately, like <c>tools/reference/tokenizer/bench.mjs</c> does with the JS
    /// reference, so the numbers compare the same work. One untimed pass warms the JIT. "warm" keeps the word caches
    /// across passes (repeated text); "cold" clears them before each pass (text never seen before).
    /// </summary>
    private static int Bench(GemmaTokenizer tokenizer, string input, int rounds)
    {
        string[] lines = input.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        long chars = 0, tokens = 0;
        foreach (string line in lines)
        {
            chars += line.Length;
            tokens += tokenizer.Encode(line).Length;
        }
        long bytes = Encoding.UTF8.GetByteCount(input);
        foreach (bool cold in new[] { false, true })
        {
            var timer = new Stopwatch();
            for (int r = 0; r < rounds; r++)
            {
                if (cold)
                    tokenizer.ClearCache();
                timer.Start();
                foreach (string line in lines)
                    tokenizer.Encode(line);
                timer.Stop();
            }
            double seconds = timer.Elapsed.TotalSeconds / rounds;
            Console.WriteLine($"edgewise {(cold ? "cold" : "warm")}: {lines.Length} lines, {chars} chars, {tokens} tokens; {seconds * 1000:F1} ms per pass " +
                $"({bytes / seconds / 1e6:F2} MB/s, {tokens / seconds / 1e6:F2} M tokens/s, mean of {rounds} passes)");
        }
        return 0;
    }
}
