using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;

namespace Edgewise.Models.Conversion;

/// <summary>One tensor of the GGUF being written: its GGUF name, ggml shape, the type its values come in, and its rows.</summary>
/// <param name="Direct">The source view when the tensor is a plain rename (bytes can be copied when the type is kept).</param>
internal sealed record PlannedTensor(string Name, long[] Shape, GgmlType SourceType, RowSource Rows, TensorView? Direct = null)
{
    public long Columns => Shape[0];

    public long RowCount
    {
        get
        {
            long n = 1;
            for (int i = 1; i < Shape.Length; i++) n *= Shape[i];
            return n;
        }
    }

    public TensorDescriptor Descriptor => new(Name, Shape, SourceType);
}

/// <summary>What an architecture's converter produces from an HF checkpoint: GGUF metadata and tensors in file order.</summary>
internal sealed class ConversionPlan
{
    public required string Architecture { get; init; }
    public required int LayerCount { get; init; }
    public required int ExpertCount { get; init; }
    /// <summary>Rows of <c>token_embd</c>: the vocabulary size the tokenizer metadata must match.</summary>
    public required int VocabSize { get; init; }
    /// <summary>Writes <c>{arch}.*</c> hyperparameters (not <c>general.*</c>, not the tokenizer).</summary>
    public required Action<GgufWriter> WriteHyperparameters { get; init; }
    public required List<PlannedTensor> Tensors { get; init; }
    /// <summary>Checkpoint tensors of the text model that the plan does not use (reported, not written).</summary>
    public required List<string> Ignored { get; init; }
}
