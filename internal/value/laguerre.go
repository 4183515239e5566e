package value

import "math"

// gaussLaguerre returns the n nodes and weights of Gauss–Laguerre quadrature,
// ∫_0^∞ e^{-u} f(u) du ≈ Σ w_i f(u_i), by Newton's method on L_n from the usual
// initial guesses (Numerical Recipes, gaulag, with α = 0).
func gaussLaguerre(n int) (u, w []float64) {
	u, w = make([]float64, n), make([]float64, n)
	z := 0.0
	for i := range n {
		switch i {
		case 0:
			z = 3 / (1 + 2.4*float64(n))
		case 1:
			z += 15 / (1 + 2.5*float64(n))
		default:
			ai := float64(i - 1)
			z += (1 + 2.55*ai) / (1.9 * ai) * (z - u[i-2])
		}
		var p1, p2, pp float64
		for range 100 {
			p1, p2 = 1, 0
			for j := 1; j <= n; j++ {
				p3 := p2
				p2 = p1
				p1 = ((2*float64(j)-1-z)*p2 - (float64(j)-1)*p3) / float64(j)
			}
			pp = (float64(n)*p1 - float64(n)*p2) / z
			z1 := z
			z = z1 - p1/pp
			if math.Abs(z-z1) <= 1e-15*z {
				break
			}
		}
		u[i] = z
		w[i] = -1 / (pp * float64(n) * p2)
	}
	return u, w
}
