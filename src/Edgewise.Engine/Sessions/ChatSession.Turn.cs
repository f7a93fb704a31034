using System.Text.Json;
using Edgewise.Engine.Constraints;
using Edgewise.Engine.Sampling;
using Edgewise.Text.Chat;
using Edgewise.Text.Tokenization;
using Edgewise.Text.ToolCalls;

namespace Edgewise.Engine.Sessions;

public sealed partial class ChatSession
{
    /// <summary>
    /// One turn's decode state: sampler, grammar matcher, detokenizer, stop-string matcher and tool-call parser.
    /// Made once per turn; a step reuses every buffer (logits, mask, sampler scratch), so the model-facing part of
    /// the loop allocates nothing; only the decoded text deltas are new strings.
    /// </summary>
    private sealed class Turn
    {
        private readonly ChatSession _session;
        private readonly EdgewiseModel _model;
        private readonly Sampler _sampler;
        private readonly GrammarMatcher? _grammar;
        private readonly ulong[]? _mask;                 // [vocab / 64] tokens the grammar allows next
        private readonly IncrementalDecoder _decoder;
        private readonly StopStringMatcher _stops;
        private readonly IToolCallStream? _parser;
        private readonly List<ToolCallEvent> _events = [];
        private readonly List<string> _callIds = [];
        private readonly int _maxTokens;
        private readonly bool _reportLogprobs;
        private bool _lastWasReasoning;
        private int _silentTokens;                       // tokens since the last one whose text came out, channel unknown yet
        private int _silentThroughMarkup;                // of those, how many up to the last markup token

        public Turn(ChatSession session, GenerationOptions options, IToolCallParser? parser, int promptTokens)
        {
            _session = session;
            _model = session.Model;
            _sampler = new Sampler(_model.Info.VocabularySize, options.Sampling);
            _grammar = CreateGrammar(_model, options, parser is not null)?.CreateMatcher();
            _mask = _grammar is null ? null : new ulong[_grammar.Grammar.MaskWords];
            _decoder = new IncrementalDecoder(_model.Tokenizer);
            _stops = new StopStringMatcher(options.Stop);
            _parser = parser?.CreateStream();
            int room = session.ContextLength - promptTokens;
            _maxTokens = options.MaxTokens is int max ? Math.Min(Math.Max(max, 1), room) : room;
            _reportLogprobs = options.Sampling.LogProbs || options.Sampling.TopLogProbs > 0;
        }

        public int CompletionTokens { get; private set; }

        /// <summary>Tokens whose text went to the thought channel, with the markup and held-back tokens around it.</summary>
        public int ReasoningTokens { get; private set; }

        public string? StopSequence => _stops.Matched;

        /// <summary>Samples one token and turns it into updates; returns the finish reason when the turn is over.</summary>
        public FinishReason? Step(List<GenerationUpdate> updates)
        {
            ChatSession s = _session;
            SampledToken sampled;
            if (_grammar is not null)
            {
                _grammar.ComputeMask(_mask);
                sampled = _sampler.Sample(s._logits, s.CachedTokens, _mask);
                _grammar.Accept(sampled.Id);
            }
            else
            {
                sampled = _sampler.Sample(s._logits, s.CachedTokens);
            }
            int token = sampled.Id;
            CompletionTokens++;

            if (_model.IsStopToken(token)) return Finish(updates, FinishReason.Stop);

            if (_reportLogprobs)
            {
                updates.Add(new GenerationUpdate(GenerationUpdateKind.Logprobs, "", Logprobs: new SampledTokenLogprobs(token, sampled.LogProb, _sampler.TopLogProbs.ToArray())));
            }
            int before = updates.Count;
            string text = _stops.Push(_decoder.Add(token));
            Emit(text, updates);
            CountChannel(updates, before, token);
            if (_stops.Matched is not null || _grammar is { IsComplete: true }) return Finish(updates, FinishReason.Stop);
            if (CompletionTokens >= _maxTokens) return Finish(updates, FinishReason.Length);

            s.Feed(token);
            return null;
        }

        /// <summary>
        /// Attributes this token to the thought channel or not by what its text became. A token whose text is held back
        /// (channel markup, the start of a possible marker) waits until a later token's text shows the channel: before
        /// thinking text they opened the channel; after it, markup closed the channel and counts as thinking too.
        /// </summary>
        private void CountChannel(List<GenerationUpdate> updates, int from, int token)
        {
            if (token >= 0)
            {
                _silentTokens++;
                if (_model.IsMarkup(token)) _silentThroughMarkup = _silentTokens;
            }
            for (int i = from; i < updates.Count; i++)
            {
                GenerationUpdateKind kind = updates[i].Kind;
                if (kind == GenerationUpdateKind.Logprobs) continue;
                // Held tokens before thinking text opened the channel; after it, those up to the last markup token closed it.
                if (kind == GenerationUpdateKind.Reasoning) ReasoningTokens += _silentTokens;
                else if (_lastWasReasoning) ReasoningTokens += _silentThroughMarkup;
                _lastWasReasoning = kind == GenerationUpdateKind.Reasoning;
                _silentTokens = 0;
                _silentThroughMarkup = 0;
            }
        }

        private FinishReason Finish(List<GenerationUpdate> updates, FinishReason reason)
        {
            int before = updates.Count;
            if (_stops.Matched is null) Emit(_stops.Push(_decoder.Flush()) + _stops.Flush(), updates);
            if (_parser is not null)
            {
                _events.Clear();
                _parser.Complete(_events);
                Translate(updates);
            }
            // Tokens still held back when the turn ends belong to whatever their text became, or to the channel they were in.
            CountChannel(updates, before, token: -1);
            if (_silentTokens > 0 && _lastWasReasoning) ReasoningTokens += _silentTokens;
            _silentTokens = 0;
            return reason == FinishReason.Stop && _callIds.Count > 0 ? FinishReason.ToolCalls : reason;
        }

        private void Emit(string text, List<GenerationUpdate> updates)
        {
            if (text.Length == 0) return;
            if (_parser is null)
            {
                updates.Add(new GenerationUpdate(GenerationUpdateKind.Text, text));
                return;
            }
            _events.Clear();
            _parser.Push(text, _events);
            Translate(updates);
        }

        private void Translate(List<GenerationUpdate> updates)
        {
            foreach (ToolCallEvent e in _events)
            {
                switch (e.Kind)
                {
                    case ToolCallEventKind.Text:
                        updates.Add(new GenerationUpdate(GenerationUpdateKind.Text, e.Text));
                        break;
                    case ToolCallEventKind.Reasoning:
                        updates.Add(new GenerationUpdate(GenerationUpdateKind.Reasoning, e.Text));
                        break;
                    case ToolCallEventKind.ToolCallStart:
                        while (_callIds.Count <= e.CallIndex) _callIds.Add(NewCallId());
                        updates.Add(new GenerationUpdate(GenerationUpdateKind.ToolCallStart, e.Text, e.CallIndex, _callIds[e.CallIndex]));
                        break;
                    case ToolCallEventKind.ToolCallArguments:
                        updates.Add(new GenerationUpdate(GenerationUpdateKind.ToolCallArguments, e.Text, e.CallIndex, _callIds[e.CallIndex]));
                        break;
                    case ToolCallEventKind.ToolCallEnd:
                        updates.Add(new GenerationUpdate(GenerationUpdateKind.ToolCallEnd, "", e.CallIndex, _callIds[e.CallIndex]));
                        break;
                }
            }
            _events.Clear();
        }

        private static string NewCallId() => "call_" + Guid.NewGuid().ToString("N")[..24];
    }

    /// <summary>
    /// The grammar a turn's options ask for, or null. A response format constrains the whole output; otherwise a tool
    /// choice other than <c>auto</c> constrains it to the native call syntax (none: no calls; required/named: calls only).
    /// </summary>
    internal static CompiledGrammar? CreateGrammar(EdgewiseModel model, GenerationOptions options, bool chat)
    {
        switch (options.ResponseFormat.Kind)
        {
            case ResponseFormatKind.JsonObject:
                return model.GetGrammar("json_object", () => JsonSchemaGrammar.AnyObject());
            case ResponseFormatKind.JsonSchema:
                string schema = options.ResponseFormat.Schema!;
                return model.GetGrammar("json_schema:" + schema, () => JsonSchemaGrammar.FromSchema(schema));
        }
        if (!chat || options.Tools.Count == 0 || options.ToolChoice.Mode == ToolChoiceMode.Auto) return null;
        if (model.ToolCallParser is not Gemma4ToolCallParser)
        {
            // Prompted JSON tool formats (Gemma 3n) have no call tokens to force or forbid.
            return null;
        }
        var functions = new ToolFunction[options.Tools.Count];
        var key = new System.Text.StringBuilder("tools:").Append(options.ToolChoice.Mode).Append(':').Append(options.ToolChoice.FunctionName)
            .Append(':').Append(options.ParallelToolCalls).Append(':').Append(options.EnableThinking);
        for (int i = 0; i < functions.Length; i++)
        {
            ToolDefinition tool = options.Tools[i];
            JsonElement? parameters = tool.ParametersSchema is null ? null : JsonDocument.Parse(tool.ParametersSchema).RootElement.Clone();
            functions[i] = new ToolFunction(tool.Name, parameters);
            key.Append('|').Append(tool.Name).Append('=').Append(tool.ParametersSchema);
        }
        return model.GetGrammar(key.ToString(),
            () => GemmaToolCallGrammar.Create(functions, options.ToolChoice, options.ParallelToolCalls, options.EnableThinking));
    }
}
