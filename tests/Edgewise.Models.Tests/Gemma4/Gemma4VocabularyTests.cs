using Edgewise.Models.Synthesis;
using Xunit;

namespace Edgewise.Models.Tests.Gemma4;

/// <summary>The built-in vocabulary a synthetic file carries (llama.cpp loading it is covered by every conformance test).</summary>
public sealed class Gemma4VocabularyTests
{
    [Fact]
    public void Built_in_vocabulary_has_the_control_tokens_at_their_ids_and_unique_pieces()
    {
        SynthVocabulary v = SynthVocabulary.BuiltIn(1000);
        Assert.Equal(1000, v.Count);
        Assert.Equal(v.Count, v.Tokens.Distinct(StringComparer.Ordinal).Count());
        foreach ((int id, (string piece, int type)) in SynthVocabulary.ControlTokens)
        {
            Assert.Equal(piece, v.Tokens[id]);
            Assert.Equal(type, v.Types[id]);
        }
        Assert.Equal("<0x0A>", v.Tokens[108 + 10]);
        Assert.Equal(SynthVocabulary.Byte, v.Types[108 + 10]);
        Assert.Throws<ArgumentOutOfRangeException>(() => SynthVocabulary.BuiltIn(300));
    }
}
