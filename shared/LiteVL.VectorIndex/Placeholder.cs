namespace LiteVL.VectorIndex; internal static class Placeholder { }
