namespace Edgewise.Models.Common;

/// <summary>
/// Where one row of a running chunk belongs: the KV cache of its sequence and its absolute position there. A prompt
/// chunk maps every row to one cache at consecutive positions; a batched decode step maps each row to another
/// sequence's cache at that sequence's next position.
/// </summary>
public readonly record struct SequenceRow(KvCache Cache, int Position);
