namespace Edgewise.Text.Tokenization;

/// <summary>How adjacent symbols are merged.</summary>
public enum TokenizerMergeMode
{
    /// <summary>Explicit ranked merge list (HF <c>tokenizer.json</c> BPE, GGUF <c>tokenizer.ggml.model = gemma4</c>).</summary>
    RankedMerges,

    /// <summary>
    /// SentencePiece by score (GGUF <c>tokenizer.ggml.model = llama</c>): any adjacent pair whose concatenation is a
    /// piece may merge, highest piece score first, leftmost on ties (llama.cpp <c>llm_tokenizer_spm</c>).
    /// </summary>
    PieceScores,
}
