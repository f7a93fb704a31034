using System.Text;
using Edgewise.Engine.Sessions;

namespace Edgewise.Engine.Tests.Sessions;

/// <summary>A streamed turn folded into its parts, keeping the raw updates for assertions on the stream itself.</summary>
public sealed record TurnResult(string Text, string Reasoning, IReadOnlyList<(string Name, string Arguments)> Calls, GenerationUsage Usage, IReadOnlyList<GenerationUpdate> Updates)
{
    public static async Task<TurnResult> Of(IAsyncEnumerable<GenerationUpdate> stream)
    {
        var text = new StringBuilder();
        var reasoning = new StringBuilder();
        var names = new List<string>();
        var args = new List<StringBuilder>();
        var updates = new List<GenerationUpdate>();
        GenerationUsage? usage = null;
        await foreach (GenerationUpdate u in stream)
        {
            updates.Add(u);
            switch (u.Kind)
            {
                case GenerationUpdateKind.Text: text.Append(u.Text); break;
                case GenerationUpdateKind.Reasoning: reasoning.Append(u.Text); break;
                case GenerationUpdateKind.ToolCallStart: names.Add(u.Text); args.Add(new StringBuilder()); break;
                case GenerationUpdateKind.ToolCallArguments: args[u.ToolCallIndex].Append(u.Text); break;
                case GenerationUpdateKind.Finished: usage = u.Usage; break;
            }
        }
        var calls = names.Select((n, i) => (n, args[i].ToString())).ToList();
        return new TurnResult(text.ToString(), reasoning.ToString(), calls, usage ?? throw new InvalidOperationException("no Finished update"), updates);
    }
}
