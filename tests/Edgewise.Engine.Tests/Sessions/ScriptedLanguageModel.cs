using Edgewise.Models.Common;

namespace Edgewise.Engine.Tests.Sessions;

/// <summary>
/// A model that says a fixed script: after a prompt of <see cref="PromptLength"/> tokens, the logits at each step put
/// <see cref="Peak"/> on the script's next token and 0 on every other, so greedy decoding follows the script and every
/// log-probability is known in closed form.
/// </summary>
internal sealed class ScriptedLanguageModel : ILanguageModel
{
    public const float Peak = 10f;

    private readonly int[] _script;

    public ScriptedLanguageModel(int vocabulary, int promptLength, int[] script)
    {
        Info = new ModelInfo("gemma4", "scripted", vocabulary, 4096, 8, 1, new Dictionary<string, string>());
        PromptLength = promptLength;
        _script = script;
    }

    public ModelInfo Info { get; }

    public int PromptLength { get; }

    /// <summary>log-softmax of the script's token at every step: Peak − log(e^Peak + vocabulary − 1).</summary>
    public double ScriptLogProb => Peak - Math.Log(Math.Exp(Peak) + Info.VocabularySize - 1);

    public IModelState CreateState(int contextLength) => new State(this, contextLength);

    public void Dispose()
    {
    }

    private sealed class State(ScriptedLanguageModel model, int contextLength) : IModelState
    {
        public int Position { get; private set; }

        public int ContextLength { get; } = contextLength;

        public void Forward(ReadOnlySpan<int> tokens, Span<float> logits)
        {
            Position += tokens.Length;
            logits.Clear();
            int step = Position - model.PromptLength;
            if ((uint)step < (uint)model._script.Length) logits[model._script[step]] = Peak;
        }

        public void ForwardAll(ReadOnlySpan<int> tokens, Span<float> logits) => throw new NotSupportedException();

        public void Truncate(int position) => Position = position;

        public void Dispose()
        {
        }
    }
}
