using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Edgewise.Models;
using Edgewise.Models.Common;

namespace Edgewise.Cli.Commands;

/// <summary>
/// <c>edgewise logits</c>: raw little-endian float32 logits [tokens][vocab] for every position of a token sequence,
/// as one prompt batch or token by token. The file format conformance scripts compare against llama.cpp.
/// </summary>
internal static class LogitsCommand
{
    public static Command Create()
    {
        var command = new Command("logits", "Write the logits of every position of a token sequence as raw float32 [tokens][vocab].");
        var model = new Argument<string>("model") { Description = "GGUF file or safetensors checkpoint directory." };
        var tokens = new Option<string>("--tokens") { Description = "Comma-separated token ids, e.g. 2,17,300.", Required = true };
        var output = new Option<string>("--out") { Description = "Output file (little-endian float32).", Required = true };
        var load = new ModelLoadArguments();
        var incremental = new Option<bool>("--incremental") { Description = "Feed the tokens one at a time instead of one prompt batch." };
        command.Arguments.Add(model);
        command.Options.Add(tokens);
        command.Options.Add(output);
        load.AddTo(command);
        command.Options.Add(incremental);
        command.SetAction(parse =>
        {
            int[] ids = [.. parse.GetValue(tokens)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(t => int.Parse(t, CultureInfo.InvariantCulture))];
            if (ids.Length == 0)
            {
                Console.Error.WriteLine("--tokens holds no ids.");
                return 2;
            }
            using ILanguageModel m = Architectures.Load(parse.GetValue(model)!, load.Read(parse));
            int vocab = m.Info.VocabularySize;
            using IModelState state = m.CreateState(Math.Min(m.Info.ContextLength, Math.Max(ids.Length, 16)));
            var logits = new float[(long)ids.Length * vocab];
            if (parse.GetValue(incremental))
            {
                for (int i = 0; i < ids.Length; i++) state.Forward(ids.AsSpan(i, 1), logits.AsSpan(i * vocab, vocab));
            }
            else
            {
                state.ForwardAll(ids, logits);
            }
            using (FileStream f = File.Create(parse.GetValue(output)!))
            {
                f.Write(MemoryMarshal.AsBytes(logits.AsSpan()));   // little-endian on every platform .NET runs this on
            }
            Console.WriteLine($"{ids.Length} × {vocab} logits -> {parse.GetValue(output)}");
            return 0;
        });
        return command;
    }
}
