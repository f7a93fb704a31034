using System.CommandLine;
using System.Globalization;
using Edgewise.Text.Tokenization;

namespace Edgewise.Cli.Commands;

/// <summary><c>edgewise detokenize MODEL_OR_TOKENIZER_JSON IDS... [--skip-special]</c>.</summary>
internal static class DetokenizeCommand
{
    public static Command Create()
    {
        var source = new Argument<string>("model") { Description = "A .gguf model, a tokenizer.json, or a folder holding tokenizer.json." };
        var ids = new Argument<string[]>("ids") { Description = "Token ids (spaces or commas between them).", Arity = ArgumentArity.OneOrMore };
        var skipSpecial = new Option<bool>("--skip-special") { Description = "Leave out control tokens such as <bos>." };

        var command = new Command("detokenize", "Print the text that token ids decode to.");
        command.Arguments.Add(source);
        command.Arguments.Add(ids);
        command.Options.Add(skipSpecial);
        command.SetAction(parseResult =>
        {
            var parsed = new List<int>();
            foreach (string arg in parseResult.GetValue(ids)!)
            {
                foreach (string part in arg.Split([',', ' ', '[', ']'], StringSplitOptions.RemoveEmptyEntries))
                {
                    if (!int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out int id))
                    {
                        Console.Error.WriteLine($"not a token id: '{part}'");
                        return 2;
                    }
                    parsed.Add(id);
                }
            }
            GemmaTokenizer tokenizer = GemmaTokenizer.Load(parseResult.GetValue(source)!);
            foreach (int id in parsed)
            {
                if ((uint)id >= (uint)tokenizer.VocabularySize)
                {
                    Console.Error.WriteLine($"token id {id} is outside the vocabulary (0..{tokenizer.VocabularySize - 1}) of {tokenizer.Source}");
                    return 2;
                }
            }
            Console.Write(tokenizer.Decode(parsed.ToArray(), parseResult.GetValue(skipSpecial)));
            Console.WriteLine();
            return 0;
        });
        return command;
    }
}
