using System.Text;
using Edgewise.Server.Backend;

namespace Edgewise.Server.Http;

/// <summary>A non-streamed generation gathered per choice: text, reasoning, tool calls, logprobs, finish reason.</summary>
internal sealed class GenerationResult
{
    private GenerationResult(ChoiceResult[] choices) => Choices = choices;

    public ChoiceResult[] Choices { get; }

    public GenerationUsage Usage { get; private set; } = new(0, 0);

    public static async Task<GenerationResult> CollectAsync(Generation generation, int choiceCount)
    {
        var choices = new ChoiceResult[choiceCount];
        for (var i = 0; i < choiceCount; i++)
            choices[i] = new ChoiceResult();
        var result = new GenerationResult(choices);
        await foreach (var e in generation.ReadAllAsync())
        {
            if (e is UsageEvent usage)
                result.Usage = usage.Usage;
            else if ((uint)e.Choice < (uint)choiceCount)
                choices[e.Choice].Add(e);
        }

        return result;
    }

    public static string FinishReasonText(FinishReason reason) => reason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        FinishReason.ToolCalls => "tool_calls",
        FinishReason.ContentFilter => "content_filter",
        _ => "stop",
    };
}

internal sealed class ChoiceResult
{
    public StringBuilder Text { get; } = new();
    public StringBuilder Reasoning { get; } = new();
    public List<ToolCallBuilder> ToolCalls { get; } = [];
    public List<TokenLogprob> Logprobs { get; } = [];
    public FinishReason? Finish { get; private set; }

    public void Add(GenerationEvent e)
    {
        switch (e)
        {
            case TextDeltaEvent text:
                Text.Append(text.Text);
                if (text.Logprobs is not null)
                    Logprobs.AddRange(text.Logprobs);
                break;
            case ReasoningDeltaEvent reasoning:
                Reasoning.Append(reasoning.Text);
                break;
            case ToolCallStartEvent start:
                ToolCalls.Add(new ToolCallBuilder(start.Index, start.Id, start.Name));
                break;
            case ToolCallArgumentsEvent args:
                Find(args.Index)?.Arguments.Append(args.Fragment);
                break;
            case FinishedEvent finished:
                Finish = finished.Reason;
                break;
        }
    }

    private ToolCallBuilder? Find(int index)
    {
        foreach (var call in ToolCalls)
        {
            if (call.Index == index)
                return call;
        }

        return null;
    }
}

internal sealed class ToolCallBuilder(int index, string id, string name)
{
    public int Index { get; } = index;
    public string Id { get; } = id;
    public string Name { get; } = name;
    public StringBuilder Arguments { get; } = new();
}
