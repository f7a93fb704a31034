using System.CommandLine;
using System.Diagnostics;
using Edgewise.Core.Formats;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;
using Edgewise.Models.Conversion;
using Edgewise.Text.Chat;
using Edgewise.Text.Tokenization;

namespace Edgewise.Cli.Commands;

/// <summary><c>edgewise convert HF_DIR --out FILE.gguf --type bf16</c>: a Hugging Face checkpoint to GGUF with tokenizer and chat template.</summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<string>("checkpoint") { Description = "Hugging Face checkpoint directory: config.json, *.safetensors, tokenizer.json (+ tokenizer_config.json / chat_template.jinja)." };
        var output = new Option<string>("--out") { Description = "GGUF file to write.", Required = true };
        var type = new Option<string>("--type") { Description = "bf16, q8_0, q4_0, q4_k_m (also f16, f32).", DefaultValueFactory = _ => "bf16" };
        var pleType = new Option<string?>("--ple-type") { Description = "Type of the per-layer embedding table alone (f32, f16, bf16, q8_0, q4_0, q4_k, q6_k)." };
        var name = new Option<string?>("--name") { Description = "general.name (default: the checkpoint folder's name)." };
        var threads = new Option<int>("--threads") { Description = "Encoding threads.", DefaultValueFactory = _ => Environment.ProcessorCount };

        var command = new Command("convert", "Convert a Gemma 4 or Gemma 3n Hugging Face checkpoint to GGUF (llama.cpp-compatible names, keys and type mix).");
        command.Arguments.Add(checkpoint);
        foreach (Option o in new Option[] { output, type, pleType, name, threads }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            string dir = parse.GetValue(checkpoint)!, destination = parse.GetValue(output)!;
            if (!Directory.Exists(dir)) return ConversionConsole.Fail($"No such directory: {dir}", 2);
            ConvertOptions options;
            try
            {
                options = new ConvertOptions
                {
                    Type = ModelFileTypes.Parse(parse.GetValue(type)!),
                    PerLayerEmbeddingType = parse.GetValue(pleType) is string p ? ModelFileTypes.ParseTensorType(p) : null,
                    Name = parse.GetValue(name),
                    Threads = parse.GetValue(threads),
                    WriteTokenizer = TokenizerWriter(dir),
                };
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException or IOException or TokenizerFormatException)
            {
                return ConversionConsole.Fail(ex.Message, 2);
            }
            try
            {
                var clock = Stopwatch.StartNew();
                long inputBytes = Directory.EnumerateFiles(dir, "*.safetensors").Sum(f => new FileInfo(f).Length);
                ConversionResult result = ConversionConsole.WithProgress($"convert {Path.GetFileName(Path.TrimEndingDirectorySeparator(dir))} → {ModelFileTypes.Name(options.Type)}",
                    progress => HfCheckpointConverter.Convert(dir, destination, options with { Progress = progress }));
                ConversionConsole.Summary(destination, result, inputBytes, clock.Elapsed);
                return 0;
            }
            catch (Exception ex) when (ex is ModelFormatException or NotSupportedException or IOException or ArgumentException)
            {
                return ConversionConsole.Fail(ex.Message, 1);
            }
        });
        return command;
    }

    /// <summary>
    /// The <c>tokenizer.*</c> keys from the checkpoint's <c>tokenizer.json</c>, with the chat template from
    /// <c>chat_template.jinja</c> (newer saves) or <c>tokenizer_config.json</c>; the vocabulary is padded with unused
    /// <c>[PAD{id}]</c> pieces up to the model's vocabulary size, as <c>convert_hf_to_gguf</c> does.
    /// </summary>
    internal static Action<GgufWriter, int>? TokenizerWriter(string dir)
    {
        string json = Path.Combine(dir, "tokenizer.json");
        if (!File.Exists(json)) throw new FileNotFoundException($"{dir} has no tokenizer.json; the GGUF needs the vocabulary.", json);
        GemmaTokenizer tokenizer = GemmaTokenizer.FromTokenizerJson(json);
        string? template = null;
        string jinja = Path.Combine(dir, "chat_template.jinja"), config = Path.Combine(dir, "tokenizer_config.json");
        if (File.Exists(jinja)) template = File.ReadAllText(jinja);
        else if (File.Exists(config) && File.ReadAllText(config) is string text && text.Contains("\"chat_template\"", StringComparison.Ordinal))
        {
            template = ChatTemplate.FromTokenizerConfig(text).Source;
        }
        TokenizerGgufMetadata metadata = TokenizerGgufMetadata.From(tokenizer, template);
        return (writer, vocabSize) => Pad(metadata, vocabSize, json).WriteTo(writer);
    }

    private static TokenizerGgufMetadata Pad(TokenizerGgufMetadata m, int vocabSize, string source)
    {
        int n = m.Tokens.Length;
        if (n > vocabSize)
        {
            throw new ModelFormatException(source, -1, $"the tokenizer has {n} pieces but the model's embedding has {vocabSize} rows.");
        }
        if (n == vocabSize) return m;
        string[] tokens = [.. m.Tokens, .. Enumerable.Range(n, vocabSize - n).Select(i => $"[PAD{i}]")];
        float[] scores = [.. m.Scores, .. Enumerable.Repeat(-1000f, vocabSize - n)];
        int[] types = [.. m.TokenTypes, .. Enumerable.Repeat(5 /* LLAMA_TOKEN_TYPE_UNUSED */, vocabSize - n)];
        return m with { Tokens = tokens, Scores = scores, TokenTypes = types };
    }
}
