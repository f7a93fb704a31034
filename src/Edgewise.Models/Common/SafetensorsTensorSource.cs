using Edgewise.Core.Formats.Safetensors;
using Edgewise.Core.Tensors;

namespace Edgewise.Models.Common;

/// <summary>
/// Tensors of a Hugging Face safetensors checkpoint, looked up by GGUF name through the architecture's name
/// map, under whichever prefix the checkpoint uses (<c>model.language_model.</c> for multimodal saves,
/// <c>model.</c> for text-only ones). Owns the checkpoint.
/// </summary>
public sealed class SafetensorsTensorSource : ITensorSource
{
    private static readonly string[] Prefixes = ["model.language_model.", "model.", ""];
    private readonly SafetensorsCheckpoint _checkpoint;
    private readonly Func<string, string?> _toHf;
    private readonly string _prefix;

    private SafetensorsTensorSource(SafetensorsCheckpoint checkpoint, Func<string, string?> toHf, string prefix)
    {
        _checkpoint = checkpoint;
        _toHf = toHf;
        _prefix = prefix;
    }

    public string Path => _checkpoint.Path;

    /// <param name="toHf">Maps a GGUF tensor name to its HF name without prefix, or null when HF has no such tensor.</param>
    public static SafetensorsTensorSource Open(string fileOrDirectory, Func<string, string?> toHf)
    {
        SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.Open(fileOrDirectory);
        foreach (string prefix in Prefixes)
        {
            if (checkpoint.ContainsTensor(prefix + "embed_tokens.weight"))
            {
                return new SafetensorsTensorSource(checkpoint, toHf, prefix);
            }
        }
        checkpoint.Dispose();
        throw ModelErrors.Field(fileOrDirectory, "embed_tokens.weight", "under model.language_model., model. or no prefix", "no such tensor");
    }

    public bool TryGetTensor(string ggufName, out TensorView view)
    {
        string? hf = _toHf(ggufName);
        if (hf is null)
        {
            view = default;
            return false;
        }
        return _checkpoint.TryGetTensor(_prefix + hf, out view);
    }

    public void Dispose() => _checkpoint.Dispose();
}
