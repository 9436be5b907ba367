/*
 * churn_math.c: BG/NBD, MBG/NBD and Gamma-Gamma numerics, with no PostgreSQL
 * dependency (see churn_math.h).
 *
 * Conventions: every likelihood is computed in log space; fits maximise the
 * mean log-likelihood over log-parameters with BFGS and analytic gradients,
 * on data rescaled so that the typical time (BG/NBD) or spend (Gamma-Gamma)
 * is 1, which makes the same starting points and bounds fit any time unit or
 * currency.  The rescaling is undone exactly afterwards (alpha and gamma are
 * scale parameters) and the log-likelihood is recomputed on the caller's data.
 */
#include "churn_math.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define LN_SQRT_2PI		0.918938533204672741780329736406
#define HYP_MAX_TERMS	200000
#define HYP_NEAR_INT	1e-4	/* c - a - b closer than this to an integer is interpolated */
#define HYP_MAX_LOSS	11.5	/* log(1e5): at most 5 of 16 digits lost to cancellation */

#define FIT_MAX_DIM		4
#define FIT_MAX_ITER	1000
#define FIT_BOUND		30.0	/* |log-parameter| beyond this is infeasible */
#define FIT_DIVERGED	13.8	/* |log-parameter| beyond this (1e6) at the end means divergence */
#define FIT_GTOL		1e-7	/* largest gradient entry accepted as converged */

/*
 * The no-dropout boundary of BG/NBD and MBG/NBD (see NoDropoutBoundary): a
 * fit is refused when its log-likelihood is within NO_DROPOUT_GAIN of the
 * no-dropout model's.
 */
#define NO_DROPOUT_GAIN		0.5

#define INTERRUPT_EVERY 65536

/* ------------------------------------------------------------------------
 * Special functions
 * ------------------------------------------------------------------------ */

/* Digamma for x > 0: recurrence up to 6, then the asymptotic series. */
double
churn_digamma(double x)
{
	double		result = 0.0;
	double		inv2;

	if (!(x > 0.0))
		return NAN;
	while (x < 6.0)
	{
		result -= 1.0 / x;
		x += 1.0;
	}
	inv2 = 1.0 / (x * x);
	result += log(x) - 0.5 / x
		- inv2 * (1.0 / 12 - inv2 * (1.0 / 120 - inv2 * (1.0 / 252 - inv2 * (1.0 / 240 - inv2 / 132))));
	return result;
}

/* The Stirling remainder lgamma(x) - [(x - 0.5) log x - x + log sqrt(2 pi)], x >= 10. */
static double
LgammaCorrection(double x)
{
	double		inv2 = 1.0 / (x * x);

	return (1.0 / 12 - inv2 * (1.0 / 360 - inv2 * (1.0 / 1260 - inv2 * (1.0 / 1680 - inv2 / 1188)))) / x;
}

/* psi(x + y) - psi(x) for x, y > 0, without cancellation when x is large. */
static double
DigammaDiff(double x, double y)
{
	if (x >= 10.0)
	{
		double		z = x + y;
		double		ix2 = 1.0 / (x * x);
		double		iz2 = 1.0 / (z * z);

		/* psi(v) = log v - 1/(2v) - 1/(12v^2) + 1/(120v^4) - 1/(252v^6) + ... */
		return log1p(y / x) - 0.5 / z + 0.5 / x
			- (iz2 - ix2) / 12.0 + (iz2 * iz2 - ix2 * ix2) / 120.0
			- (iz2 * iz2 * iz2 - ix2 * ix2 * ix2) / 252.0;
	}
	return churn_digamma(x + y) - churn_digamma(x);
}

/*
 * log B(a, b) for a, b > 0, stable when one or both are large (after R's
 * lbeta): lgamma(a) + lgamma(b) - lgamma(a + b) loses every digit once the
 * arguments reach 1e12, and a likelihood built on it can then show a false,
 * huge maximum.
 */
double
churn_lbeta(double a, double b)
{
	double		p = fmin(a, b);
	double		q = fmax(a, b);

	if (!(p > 0.0))
		return NAN;
	if (p >= 10.0)
	{
		double		corr = LgammaCorrection(p) + LgammaCorrection(q) - LgammaCorrection(p + q);

		return -0.5 * log(q) + LN_SQRT_2PI + corr + (p - 0.5) * log(p / (p + q))
			+ q * log1p(-p / (p + q));
	}
	if (q >= 10.0)
	{
		double		corr = LgammaCorrection(q) - LgammaCorrection(p + q);

		return lgamma(p) + corr + p - p * log(p + q) + (q - 0.5) * log1p(-p / (p + q));
	}
	return lgamma(p) + lgamma(q) - lgamma(p + q);
}

/* log |Gamma(x)| and its sign; *pole is set when x is 0 or a negative integer. */
static double
LogGammaSigned(double x, int *sign, int *pole)
{
	*pole = 0;
	*sign = 1;
	if (x <= 0.0)
	{
		double		fl = floor(x);

		if (fl == x)
		{
			*pole = 1;
			return INFINITY;
		}
		*sign = (fmod(fl, 2.0) == 0.0) ? 1 : -1;
	}
	return lgamma(x);
}

/* (l1, s1) + (l2, s2) for signed values held as log magnitude and sign. */
static double
LogAddSigned(double l1, int s1, double l2, int s2, int *sign)
{
	double		hi,
				lo,
				v;
	int			shi,
				slo;

	if (s1 == 0)
	{
		*sign = s2;
		return l2;
	}
	if (s2 == 0)
	{
		*sign = s1;
		return l1;
	}
	if (l1 >= l2)
	{
		hi = l1;
		shi = s1;
		lo = l2;
		slo = s2;
	}
	else
	{
		hi = l2;
		shi = s2;
		lo = l1;
		slo = s1;
	}
	v = 1.0 + (double) (shi * slo) * exp(lo - hi);
	if (v == 0.0)
	{
		*sign = 0;
		return -INFINITY;
	}
	*sign = (v > 0.0) ? shi : -shi;
	return hi + log(fabs(v));
}

/*
 * The hypergeometric series sum_k (a)_k (b)_k / ((c)_k k!) z^k as a log
 * magnitude and a sign.  The partial sum is rescaled as it grows so that it
 * never overflows.  Terms may shrink and then grow again (a small ratio early,
 * or c + k crossing zero), so the loop stops only once no later ratio can
 * exceed a bound U < 1 and the tail, at most |term| U / (1 - U), is below
 * double precision: from index k on, with a + k, b + k, c + k > 0, each ratio
 * is z (a+k)/(k+1) (b+k)/(c+k), or z (a+k)/(c+k) (b+k)/(k+1), and each
 * factor moves monotonically towards 1 (the tighter pairing is used).  *loss is log(largest |term| / |sum|), the digits
 * lost to cancellation.  *ok is cleared if the series does not converge
 * within HYP_MAX_TERMS terms.
 */
static double
LogHypSeries(double a, double b, double c, double z, int *sign, int *ok, double *loss)
{
	double		term = 1.0;
	double		sum = 1.0;
	double		big = 1.0;		/* largest |term| so far, same scale as sum */
	double		logscale = 0.0;
	int			k;

	for (k = 0; k < HYP_MAX_TERMS; k++)
	{
		double		ratio = (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;

		term *= ratio;
		sum += term;
		big = fmax(big, fabs(term));
		if (term == 0.0)
			break;				/* a or b is a non-positive integer: a polynomial */
		if (fabs(sum) > 1e250 || big > 1e250)
		{
			sum *= 1e-250;
			term *= 1e-250;
			big *= 1e-250;
			logscale += 250.0 * M_LN10;
		}
		if (a + k + 1.0 > 0.0 && b + k + 1.0 > 0.0 && c + k + 1.0 > 0.0)
		{
			double		n = k + 1.0;
			double		u = fabs(z) * fmin(fmax(1.0, (a + n) / (n + 1.0)) * fmax(1.0, (b + n) / (c + n)),
										   fmax(1.0, (a + n) / (c + n)) * fmax(1.0, (b + n) / (n + 1.0)));

			if (u < 1.0 && fabs(term) * u / (1.0 - u) <= 1e-17 * fabs(sum))
				break;
		}
	}
	if (k >= HYP_MAX_TERMS || !isfinite(sum))
	{
		*ok = 0;
		*sign = 1;
		*loss = INFINITY;
		return NAN;
	}
	if (sum == 0.0)
	{
		*sign = 0;
		*loss = INFINITY;
		return -INFINITY;
	}
	*sign = (sum > 0.0) ? 1 : -1;
	*loss = log(big / fabs(sum));
	return log(fabs(sum)) + logscale;
}

/*
 * 2F1 for 0.5 < z < 1 through the linear transformation z -> 1 - z
 * (Abramowitz & Stegun 15.3.6), valid when c - a - b is not an integer:
 *   F(a,b;c;z) = G(c)G(d)/(G(c-a)G(c-b)) F(a,b;1-d;1-z)
 *              + (1-z)^d G(c)G(-d)/(G(a)G(b)) F(c-a,c-b;1+d;1-z),  d = c-a-b
 * Both series then converge at least as fast as 0.5^k.
 */
static double
LogHypNearOne(double a, double b, double c, double z, int *sign, int *ok, double *loss)
{
	/*
	 * The gamma-function coefficients depend on (a, b, c) only; a forecast
	 * over many horizons (clv) calls this with the same (a, b, c) and a new
	 * z each time, so the last ones are remembered.
	 */
	static double last_a = NAN,
				last_b = NAN,
				last_c = NAN;
	static double lg1,
				lg2;
	static int	sg1,
				sg2,
				use1,
				use2;
	double		d = c - a - b;
	double		l1 = -INFINITY,
				l2 = -INFINITY;
	int			s1 = 0,
				s2 = 0;
	int			ss;
	double		ls,
				loss1 = -INFINITY,
				loss2 = -INFINITY,
				l;

	if (a != last_a || b != last_b || c != last_c)
	{
		double		lgc,
					lgd,
					lga,
					lgb;
		int			sgc,
					sgd,
					sga,
					sgb,
					pole,
					pa,
					pb;

		lgc = LogGammaSigned(c, &sgc, &pole);
		lgd = LogGammaSigned(d, &sgd, &pole);
		lga = LogGammaSigned(c - a, &sga, &pa);
		lgb = LogGammaSigned(c - b, &sgb, &pb);
		use1 = !pa && !pb;
		lg1 = lgc + lgd - lga - lgb;
		sg1 = sgc * sgd * sga * sgb;

		lgd = LogGammaSigned(-d, &sgd, &pole);
		lga = LogGammaSigned(a, &sga, &pa);
		lgb = LogGammaSigned(b, &sgb, &pb);
		use2 = !pa && !pb;
		lg2 = lgc + lgd - lga - lgb;
		sg2 = sgc * sgd * sga * sgb;

		last_a = a;
		last_b = b;
		last_c = c;
	}
	if (use1)
	{
		ls = LogHypSeries(a, b, 1.0 - d, 1.0 - z, &ss, ok, &loss1);
		l1 = lg1 + ls;
		s1 = sg1 * ss;
	}
	if (use2)
	{
		ls = LogHypSeries(c - a, c - b, 1.0 + d, 1.0 - z, &ss, ok, &loss2);
		l2 = d * log1p(-z) + lg2 + ls;
		s2 = sg2 * ss;
	}
	if (!*ok)
		return NAN;
	l = LogAddSigned(l1, s1, l2, s2, sign);
	/* the two terms may be huge and cancel (large |c - a - b|): count that loss */
	*loss = (*sign == 0) ? INFINITY :
		fmax(s1 ? l1 + loss1 : -INFINITY, s2 ? l2 + loss2 : -INFINITY) - l;
	return l;
}

/*
 * The 1 - z transformation for 0.5 < z < 1.  Where c - a - b is within 1e-4
 * of an integer (a removable singularity of the transformation), the value
 * is interpolated in c from four points around it, accurate to about 1e-11
 * relative.  *loss as for LogHypSeries.
 */
static double
LogHypOneMinus(double a, double b, double c, double z, int *sign, int *ok, double *loss)
{
	double		d,
				nearest;

	d = c - a - b;
	nearest = round(d);
	if (fabs(d - nearest) < HYP_NEAR_INT)
	{
		/*
		 * Cubic Lagrange interpolation in c through c0 + {-2, -1, 1, 2} h,
		 * where c0 makes c - a - b the integer: error O(h^4), and each node
		 * is at least h from the singularity, so the cancellation between
		 * the two terms costs at most about 1/h of precision.
		 */
		static const double nodes[4] = {-2.0, -1.0, 1.0, 2.0};
		double		c0 = c - (d - nearest);
		double		u = (d - nearest) / HYP_NEAR_INT;	/* in (-1, 1) */
		double		l[4],
					li,
					lossmax = -INFINITY,
					lmax = -INFINITY,
					acc = 0.0;
		int			s[4],
					i,
					j;

		for (i = 0; i < 4; i++)
		{
			l[i] = LogHypNearOne(a, b, c0 + nodes[i] * HYP_NEAR_INT, z, &s[i], ok, &li);
			if (!*ok)
				return NAN;
			if (s[i] != 0)
				lossmax = fmax(lossmax, l[i] + li);
			if (s[i] != 0)
				lmax = fmax(lmax, l[i]);
		}
		if (lmax == -INFINITY)
		{
			*sign = 0;
			*loss = INFINITY;
			return -INFINITY;
		}
		for (i = 0; i < 4; i++)
		{
			double		w = 1.0;

			for (j = 0; j < 4; j++)
				if (j != i)
					w *= (u - nodes[j]) / (nodes[i] - nodes[j]);
			if (s[i] != 0)
				acc += w * (double) s[i] * exp(l[i] - lmax);
		}
		if (acc == 0.0)
		{
			*sign = 0;
			*loss = INFINITY;
			return -INFINITY;
		}
		*sign = (acc > 0.0) ? 1 : -1;
		*loss = lossmax - (lmax + log(fabs(acc)));
		return lmax + log(fabs(acc));
	}
	return LogHypNearOne(a, b, c, z, sign, ok, loss);
}


/*
 * log |2F1(a, b; c; z)| and its sign, for real z < 1 and c not a
 * non-positive integer.  z < 0 goes through Pfaff's transformation to
 * z/(z-1) in (0, 1); 0 <= z <= 0.5 sums the series directly.  For z > 0.5
 * the series in z is summed as is when c - a - b >= 0, else after Euler's
 * transformation (1-z)^(c-a-b) F(c-a, c-b; c; z), so that its terms
 * eventually fall at least like z^k; when that would take too many terms or
 * cancels, the 1 - z transformation is used (it cancels badly when
 * |c - a - b| is large: two terms of 1e276 for a value of 1.3).  A result
 * that lost more than HYP_MAX_LOSS to cancellation is not returned: *ok is
 * cleared (and NaN returned), as for arguments outside the domain or a
 * series that does not converge.
 */
double
churn_log_hyp2f1(double a, double b, double c, double z, int *sign, int *ok)
{
	double		d,
				l,
				loss,
				A,
				B,
				q,
				kpeak;

	*ok = 1;
	*sign = 1;
	if (!isfinite(a) || !isfinite(b) || !isfinite(c) || !isfinite(z) || !(z < 1.0) ||
		(c <= 0.0 && floor(c) == c))
	{
		*ok = 0;
		return NAN;
	}
	if (z == 0.0 || a == 0.0 || b == 0.0)
		return 0.0;
	if (z < 0.0)
	{
		double		w = z / (z - 1.0);

		/* F is symmetric in a, b: keep c - b the larger, so fewer terms alternate */
		if (a < b)
		{
			double		t = a;

			a = b;
			b = t;
		}
		l = churn_log_hyp2f1(a, c - b, c, w, sign, ok);
		return l - a * log1p(-z);
	}
	/* direct series near 0, and for polynomials (a or b a non-positive integer) */
	if (z <= 0.5 || (a < 0.0 && a == floor(a)) || (b < 0.0 && b == floor(b)))
	{
		l = LogHypSeries(a, b, c, z, sign, ok, &loss);
		goto checked;
	}

	d = c - a - b;
	A = (d >= 0.0) ? a : c - a;
	B = (d >= 0.0) ? b : c - b;

	/*
	 * The terms grow while their ratio exceeds 1, up to the positive root of
	 * (1-z) k^2 - ((A+B) z - c - 1) k - (A B z - c); past it they fall about
	 * like z^k.  Sum the series only if that fits well within HYP_MAX_TERMS.
	 */
	q = (A + B) * z - c - 1.0;
	kpeak = (q + sqrt(fmax(0.0, q * q + 4.0 * (1.0 - z) * (A * B * z - c)))) / (2.0 * (1.0 - z));
	if (kpeak + 40.0 / (1.0 - z) < HYP_MAX_TERMS / 2)
	{
		l = LogHypSeries(A, B, c, z, sign, ok, &loss);
		if (*ok && loss <= HYP_MAX_LOSS)
			return (d >= 0.0) ? l : l + d * log1p(-z);
		*ok = 1;
	}
	l = LogHypOneMinus(a, b, c, z, sign, ok, &loss);

checked:
	if (!*ok || loss > HYP_MAX_LOSS)
	{
		*ok = 0;
		*sign = 1;
		return NAN;
	}
	return l;
}

/* 2F1(a, b; c; z) itself; may overflow to +-Inf where the log form would not. */
double
churn_hyp2f1(double a, double b, double c, double z, int *ok)
{
	int			sign;
	double		l = churn_log_hyp2f1(a, b, c, z, &sign, ok);

	if (!*ok)
		return NAN;
	return (double) sign * exp(l);
}

/* ------------------------------------------------------------------------
 * BFGS on log-parameters
 * ------------------------------------------------------------------------ */

/* Mean negative log-likelihood at theta and its gradient; +Inf if undefined. */
typedef double (*ObjectiveFn) (const double *theta, double *grad, void *arg);

/*
 * Minimises fn from theta (updated in place) with BFGS and a backtracking
 * Armijo line search.  Steps are capped at 2 in each log-parameter, and
 * points outside |theta_i| <= FIT_BOUND are treated as infeasible.
 */
static ChurnFitResult
Bfgs(ObjectiveFn fn, void *arg, int n, double *theta, ChurnInterruptFn interrupt)
{
	ChurnFitResult res;
	double		H[FIT_MAX_DIM][FIT_MAX_DIM];
	double		g[FIT_MAX_DIM],
				gn[FIT_MAX_DIM],
				d[FIT_MAX_DIM],
				tn[FIT_MAX_DIM],
				s[FIT_MAX_DIM],
				y[FIT_MAX_DIM];
	double		f,
				fn_val = 0.0;
	int			is_identity = 1;
	int			first_update = 1;
	int			stalls = 0;
	int			iter,
				i,
				j;

	memset(&res, 0, sizeof(res));
	res.diverged_param = -1;
	f = fn(theta, g, arg);
	if (!isfinite(f))
	{
		res.status = CHURN_FIT_NO_CONVERGENCE;
		res.log_likelihood = -INFINITY;
		return res;
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			H[i][j] = (i == j) ? 1.0 : 0.0;

	for (iter = 0; iter < FIT_MAX_ITER; iter++)
	{
		double		gmax = 0.0,
					slope = 0.0,
					dmax = 0.0,
					step = 1.0,
					sy = 0.0,
					yy = 0.0;
		int			accepted = 0,
					ls;

		if (interrupt)
			interrupt();
		for (i = 0; i < n; i++)
			gmax = fmax(gmax, fabs(g[i]));
		if (gmax < FIT_GTOL * 1e-2)
			break;

		for (i = 0; i < n; i++)
		{
			d[i] = 0.0;
			for (j = 0; j < n; j++)
				d[i] -= H[i][j] * g[j];
			slope += d[i] * g[i];
		}
		if (!(slope < 0.0))
		{
			/* not a descent direction: restart from steepest descent */
			for (i = 0; i < n; i++)
				for (j = 0; j < n; j++)
					H[i][j] = (i == j) ? 1.0 : 0.0;
			is_identity = 1;
			first_update = 1;
			slope = 0.0;
			for (i = 0; i < n; i++)
			{
				d[i] = -g[i];
				slope -= g[i] * g[i];
			}
		}
		for (i = 0; i < n; i++)
			dmax = fmax(dmax, fabs(d[i]));
		if (dmax > 2.0)
		{
			for (i = 0; i < n; i++)
				d[i] *= 2.0 / dmax;
			slope *= 2.0 / dmax;
		}

		for (ls = 0; ls < 60; ls++)
		{
			int			feasible = 1;

			for (i = 0; i < n; i++)
			{
				tn[i] = theta[i] + step * d[i];
				if (fabs(tn[i]) > FIT_BOUND)
					feasible = 0;
			}
			fn_val = feasible ? fn(tn, gn, arg) : INFINITY;
			if (isfinite(fn_val) && fn_val <= f + 1e-4 * step * slope)
			{
				accepted = 1;
				break;
			}
			step *= 0.5;
		}
		if (!accepted)
		{
			if (!is_identity)
			{
				for (i = 0; i < n; i++)
					for (j = 0; j < n; j++)
						H[i][j] = (i == j) ? 1.0 : 0.0;
				is_identity = 1;
				first_update = 1;
				continue;
			}
			break;				/* no progress possible along the gradient */
		}

		if (f - fn_val <= 1e-15 * (1.0 + fabs(f)))
			stalls++;
		else
			stalls = 0;

		for (i = 0; i < n; i++)
		{
			s[i] = tn[i] - theta[i];
			y[i] = gn[i] - g[i];
			sy += s[i] * y[i];
			yy += y[i] * y[i];
			theta[i] = tn[i];
			g[i] = gn[i];
		}
		f = fn_val;
		if (stalls >= 4)
			break;
		for (i = 0; i < n; i++)
			if (fabs(theta[i]) > FIT_DIVERGED + 2.0)
				break;
		if (i < n)
			break;				/* running away: reported as diverged below */

		if (sy > 1e-18)
		{
			double		Hy[FIT_MAX_DIM],
						yHy = 0.0,
						rho = 1.0 / sy;

			if (first_update)
			{
				for (i = 0; i < n; i++)
					for (j = 0; j < n; j++)
						H[i][j] = (i == j) ? sy / yy : 0.0;
				first_update = 0;
			}
			for (i = 0; i < n; i++)
			{
				Hy[i] = 0.0;
				for (j = 0; j < n; j++)
					Hy[i] += H[i][j] * y[j];
				yHy += y[i] * Hy[i];
			}
			/* H += ((sy + yHy) s s' ) / sy^2 - (Hy s' + s Hy') / sy */
			for (i = 0; i < n; i++)
				for (j = 0; j < n; j++)
					H[i][j] += (sy + yHy) * s[i] * s[j] * rho * rho
						- (Hy[i] * s[j] + s[i] * Hy[j]) * rho;
			is_identity = 0;
		}
	}

	res.iterations = iter;
	res.log_likelihood = -f;
	res.status = CHURN_FIT_OK;
	{
		double		gmax = 0.0;

		for (i = 0; i < n; i++)
			gmax = fmax(gmax, fabs(g[i]));
		for (i = 0; i < n; i++)
			if (fabs(theta[i]) > FIT_DIVERGED)
			{
				res.status = CHURN_FIT_DIVERGED;
				res.diverged_param = i;
				return res;
			}
		if (gmax > FIT_GTOL)
			res.status = CHURN_FIT_NO_CONVERGENCE;
	}
	return res;
}

/* ------------------------------------------------------------------------
 * BG/NBD
 * ------------------------------------------------------------------------ */

/*
 * Log-likelihood of the BG/NBD model (FHL 2005, equation 6) or, with mbg
 * set, of the MBG/NBD model (Batislam, Denizel & Filiztekin 2007, as
 * lifetimes' ModifiedBetaGeoFitter), summed over the points, each weighted by
 * its count.  With s = 0 (BG/NBD) or 1 (MBG/NBD):
 *   lgamma(r+x) - lgamma(r) + r log(alpha) + lbeta(a, b+x+s) - lbeta(a, b)
 *   + log( (alpha+T)^-(r+x) + [x>0 or s=1] a/(b+x+s-1) (alpha+t_x)^-(r+x) )
 * with the last term summed in log space (log1p of the smaller over the
 * larger).  MBG/NBD's customer may die at every purchase, the first one
 * included, hence the extra survival factor (b+x)/(a+b+x) and the dropout
 * term also at x = 0.  With grad non-NULL, also the gradient with respect to
 * (log r, log alpha, log a, log b).  Points sorted by x share the
 * x-dependent gamma and digamma terms.
 */
static double
PurchaseLogLikelihood(const BgnbdParams *m, const BgnbdPoint *pts, size_t npts, double *grad,
					  ChurnInterruptFn interrupt, int mbg)
{
	const double r = m->r,
				alpha = m->alpha,
				a = m->a,
				b = m->b;
	const double s = mbg ? 1.0 : 0.0;
	const double log_alpha = log(alpha),
				lbeta_ab = churn_lbeta(a, b);
	double		ll = 0.0;
	double		gr = 0.0,
				galpha = 0.0,
				ga = 0.0,
				gb = 0.0;
	double		cur_x = -1.0;
	double		cx = 0.0,
				log_bx1 = 0.0,
				dr_x = 0.0,
				da_x = 0.0,
				db_x = 0.0;
	size_t		i;

	for (i = 0; i < npts; i++)
	{
		const BgnbdPoint *p = &pts[i];
		double		x = p->x;
		double		la = log(alpha + p->T);
		double		A3 = -(r + x) * la;
		double		L,
					w = 0.0;
		int			dropout = (x > 0.0 || mbg);	/* the dropout term is present */

		if (interrupt && (i % INTERRUPT_EVERY) == INTERRUPT_EVERY - 1)
			interrupt();
		if (x != cur_x)
		{
			cur_x = x;
			/* x + s = 0 (BG/NBD, x = 0): every x-dependent term is 0 */
			if (x + s > 0.0)
			{
				cx = lgamma(r + x) - lgamma(r) + churn_lbeta(a, b + x + s) - lbeta_ab;
				log_bx1 = log(b + x + s - 1.0);
			}
			else
				cx = 0.0;
			if (grad)
			{
				dr_x = (x > 0.0) ? DigammaDiff(r, x) : 0.0;
				if (x + s > 0.0)
				{
					da_x = -DigammaDiff(a + b, x + s);
					db_x = DigammaDiff(b, x + s) - DigammaDiff(a + b, x + s);
				}
				else
					da_x = db_x = 0.0;
			}
		}
		if (dropout)
		{
			double		lt = log(alpha + p->t_x);
			double		A4 = log(a) - log_bx1 - (r + x) * lt;

			if (A4 > A3)
			{
				L = A4 + log1p(exp(A3 - A4));
				w = 1.0 / (1.0 + exp(A3 - A4));
			}
			else
			{
				L = A3 + log1p(exp(A4 - A3));
				w = exp(A4 - A3) / (1.0 + exp(A4 - A3));
			}
			if (grad)
			{
				gr += p->n * (dr_x + log_alpha - (1.0 - w) * la - w * lt);
				galpha += p->n * (r / alpha - (r + x) * ((1.0 - w) / (alpha + p->T) + w / (alpha + p->t_x)));
				ga += p->n * (da_x + w / a);
				gb += p->n * (db_x - w / (b + x + s - 1.0));
			}
		}
		else
		{
			L = A3;
			if (grad)
			{
				gr += p->n * (log_alpha - la);
				galpha += p->n * (r / alpha - r / (alpha + p->T));
			}
		}
		ll += p->n * (cx + r * log_alpha + L);
	}
	if (grad)
	{
		/* chain rule to log-parameters */
		grad[0] = gr * r;
		grad[1] = galpha * alpha;
		grad[2] = ga * a;
		grad[3] = gb * b;
	}
	return ll;
}

double
bgnbd_log_likelihood(const BgnbdParams *m, const BgnbdPoint *pts, size_t npts, double *grad,
					 ChurnInterruptFn interrupt)
{
	return PurchaseLogLikelihood(m, pts, npts, grad, interrupt, 0);
}

double
mbgnbd_log_likelihood(const BgnbdParams *m, const BgnbdPoint *pts, size_t npts, double *grad,
					  ChurnInterruptFn interrupt)
{
	return PurchaseLogLikelihood(m, pts, npts, grad, interrupt, 1);
}

typedef struct BgnbdObjective
{
	const BgnbdPoint *pts;
	size_t		npts;
	double		total;
	int			mbg;			/* MBG/NBD instead of BG/NBD */
	ChurnInterruptFn interrupt;
} BgnbdObjective;

static double
BgnbdObjectiveFn(const double *theta, double *grad, void *arg)
{
	BgnbdObjective *o = (BgnbdObjective *) arg;
	BgnbdParams m;
	double		ll;
	int			i;

	m.r = exp(theta[0]);
	m.alpha = exp(theta[1]);
	m.a = exp(theta[2]);
	m.b = exp(theta[3]);
	ll = PurchaseLogLikelihood(&m, o->pts, o->npts, grad, o->interrupt, o->mbg);
	if (!isfinite(ll))
		return INFINITY;
	for (i = 0; i < 4; i++)
	{
		grad[i] = -grad[i] / o->total;
		if (!isfinite(grad[i]))
			return INFINITY;
	}
	return -ll / o->total;
}

/*
 * The no-dropout limit of both models (a/(a+b) -> 0: nobody ever drops out)
 * is the NBD model of Poisson purchases at a Gamma(r, alpha) rate:
 *   lgamma(r+x) - lgamma(r) + r log(alpha) - (r+x) log(alpha+T)
 * per customer (the purchase times given x add nothing that depends on r or
 * alpha).  Its log-likelihood and the gradient in (log r, log alpha).
 */
static double
NbdLogLikelihood(double r, double alpha, const BgnbdPoint *pts, size_t npts, double *grad,
				 ChurnInterruptFn interrupt)
{
	const double log_alpha = log(alpha);
	double		ll = 0.0,
				gr = 0.0,
				galpha = 0.0,
				cur_x = -1.0,
				cx = 0.0,
				dr_x = 0.0;
	size_t		i;

	for (i = 0; i < npts; i++)
	{
		const BgnbdPoint *p = &pts[i];
		double		x = p->x;
		double		la = log(alpha + p->T);

		if (interrupt && (i % INTERRUPT_EVERY) == INTERRUPT_EVERY - 1)
			interrupt();
		if (x != cur_x)
		{
			cur_x = x;
			cx = (x > 0.0) ? lgamma(r + x) - lgamma(r) : 0.0;
			dr_x = (x > 0.0 && grad) ? DigammaDiff(r, x) : 0.0;
		}
		ll += p->n * (cx + r * log_alpha - (r + x) * la);
		if (grad)
		{
			gr += p->n * (dr_x + log_alpha - la);
			galpha += p->n * (r / alpha - (r + x) / (alpha + p->T));
		}
	}
	if (grad)
	{
		grad[0] = gr * r;
		grad[1] = galpha * alpha;
	}
	return ll;
}

static double
NbdObjectiveFn(const double *theta, double *grad, void *arg)
{
	BgnbdObjective *o = (BgnbdObjective *) arg;
	double		ll = NbdLogLikelihood(exp(theta[0]), exp(theta[1]), o->pts, o->npts, grad, o->interrupt);

	if (!isfinite(ll))
		return INFINITY;
	grad[0] = -grad[0] / o->total;
	grad[1] = -grad[1] / o->total;
	if (!isfinite(grad[0]) || !isfinite(grad[1]))
		return INFINITY;
	return -ll / o->total;
}

/*
 * Whether a BG/NBD or MBG/NBD fit m (rescaled units, objective o, log-
 * likelihood ll) leaves the dropout part undetermined: its log-likelihood is
 * within NO_DROPOUT_GAIN of the limiting no-dropout (NBD) model fitted on its
 * own.  The likelihood then has no maximum inside the parameter space that
 * the data single out: BFGS stops anywhere on a flat ridge towards
 * a/(a+b) -> 0 (a two-week calibration gave a = 1.7e-5, b = 273,039: nobody
 * ever drops out), or at an interior point the data cannot tell from it.
 * 0.5 is well below the 2.3 by which two extra parameters must raise the
 * log-likelihood to reject the boundary at the 10 % level.  The figures go
 * into res for the message, among them the dropouts the fit expects among
 * the purchases after which a customer may drop out (the repeat purchases;
 * for MBG/NBD the first ones too).
 */
static int
NoDropoutBoundary(const BgnbdParams *m, BgnbdObjective *o, double ll, ChurnFitResult *res,
				  ChurnInterruptFn interrupt)
{
	double		theta[2] = {log(m->r), log(m->alpha)};
	double		chances = 0.0;
	ChurnFitResult lim;
	size_t		i;

	for (i = 0; i < o->npts; i++)
		chances += o->pts[i].n * (o->pts[i].x + (o->mbg ? 1.0 : 0.0));
	res->dropout_mean = m->a / (m->a + m->b);
	res->expected_dropouts = res->dropout_mean * chances;
	lim = Bfgs(NbdObjectiveFn, o, 2, theta, interrupt);
	/* the better of the limit's fit and the fit's own (r, alpha) without dropout */
	res->limit_log_likelihood = fmax(lim.log_likelihood * o->total,
									 NbdLogLikelihood(m->r, m->alpha, o->pts, o->npts, NULL, interrupt));
	return ll - res->limit_log_likelihood < NO_DROPOUT_GAIN;
}

/*
 * Maximum-likelihood BG/NBD (or, with mbg set, MBG/NBD) fit: from (1, 1, 1,
 * 1) in rescaled units, and only if that does not converge, from a second
 * starting point near typical published fits; the best converged one is kept,
 * unless it is on the no-dropout boundary (CHURN_FIT_NO_DROPOUT).
 * pts should be sorted by x (the x-dependent terms are then computed once per
 * x); their times are rescaled in place during the fit and restored (to
 * rounding) before returning.
 */
static ChurnFitResult
PurchaseFitPoints(BgnbdPoint *pts, size_t npts, BgnbdParams *out, ChurnInterruptFn interrupt, int mbg)
{
	/* starting points in rescaled units (mean T = 1): r, alpha, a, b */
	static const double starts[][4] = {{1.0, 1.0, 1.0, 1.0}, {0.25, 0.1, 0.8, 2.5}};
	ChurnFitResult best;
	BgnbdObjective obj;
	double		total = 0.0,
				sumT = 0.0,
				scale,
				ll_scaled = 0.0;
	int			at_boundary = 0;
	size_t		i;
	int			s;

	memset(&best, 0, sizeof(best));
	best.status = CHURN_FIT_NO_CONVERGENCE;
	best.log_likelihood = -INFINITY;
	best.diverged_param = -1;

	for (i = 0; i < npts; i++)
	{
		total += pts[i].n;
		sumT += pts[i].n * pts[i].T;
	}
	scale = (sumT > 0.0) ? sumT / total : 1.0;

	/* the points are rescaled in place and restored before returning */
	for (i = 0; i < npts; i++)
	{
		pts[i].T /= scale;
		pts[i].t_x /= scale;
	}
	obj.pts = pts;
	obj.npts = npts;
	obj.total = total;
	obj.mbg = mbg;
	obj.interrupt = interrupt;

	for (s = 0; s < (int) (sizeof(starts) / sizeof(starts[0])); s++)
	{
		double		theta[4];
		ChurnFitResult res;
		int			k;

		for (k = 0; k < 4; k++)
			theta[k] = log(starts[s][k]);
		if (best.status == CHURN_FIT_OK)
			break;
		res = Bfgs(BgnbdObjectiveFn, &obj, 4, theta, interrupt);
		if (best.status != CHURN_FIT_OK ?
			(res.status == CHURN_FIT_OK || res.log_likelihood > best.log_likelihood) :
			(res.status == CHURN_FIT_OK && res.log_likelihood > best.log_likelihood + 1e-12))
		{
			best = res;
			out->r = exp(theta[0]);
			out->alpha = exp(theta[1]) * scale;
			out->a = exp(theta[2]);
			out->b = exp(theta[3]);
		}
	}

	/* a converged fit, or a or b that ran away: both may be the boundary */
	if (best.status == CHURN_FIT_OK || (best.status == CHURN_FIT_DIVERGED && best.diverged_param >= 2))
	{
		BgnbdParams scaled = *out;

		scaled.alpha /= scale;
		ll_scaled = PurchaseLogLikelihood(&scaled, pts, npts, NULL, interrupt, mbg);
		at_boundary = NoDropoutBoundary(&scaled, &obj, ll_scaled, &best, interrupt);
	}

	for (i = 0; i < npts; i++)
	{
		pts[i].T *= scale;
		pts[i].t_x *= scale;
	}
	if (best.status == CHURN_FIT_OK || at_boundary)
	{
		best.log_likelihood = PurchaseLogLikelihood(out, pts, npts, NULL, interrupt, mbg);
		if (at_boundary)
		{
			/* rescaling the times shifts both log-likelihoods alike */
			best.limit_log_likelihood += best.log_likelihood - ll_scaled;
			best.status = CHURN_FIT_NO_DROPOUT;
		}
	}
	return best;
}

ChurnFitResult
bgnbd_fit_points(BgnbdPoint *pts, size_t npts, BgnbdParams *out, ChurnInterruptFn interrupt)
{
	return PurchaseFitPoints(pts, npts, out, interrupt, 0);
}

ChurnFitResult
mbgnbd_fit_points(BgnbdPoint *pts, size_t npts, BgnbdParams *out, ChurnInterruptFn interrupt)
{
	return PurchaseFitPoints(pts, npts, out, interrupt, 1);
}

/*
 * P(alive | x, t_x, T) = 1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)),
 * with the odds in log space so that frequent buyers do not overflow.
 */
double
bgnbd_p_alive_value(const BgnbdParams *m, double x, double t_x, double T)
{
	double		lo;

	if (x <= 0.0)
		return 1.0;
	lo = log(m->a) - log(m->b + x - 1.0)
		+ (m->r + x) * (log(m->alpha + T) - log(m->alpha + t_x));
	if (lo > 0.0)
		return exp(-lo) / (1.0 + exp(-lo));
	return 1.0 / (1.0 + exp(lo));
}

/*
 * E[X(t)] for a customer drawn from the model whose Poisson scale is alpha_post
 * and whose (r, b) were shifted by x (FHL 2005 equations 7 and 10):
 *   (a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))]
 * computed as -expm1 of the log of the product.  At a = 1 the expression is
 * 0/0; within 1e-7 of it, the mean of a = 1 +- 1e-6 is used.
 */
static double
BgnbdBracket(double r, double alpha, double a, double b, double x, double T, double t, int *ok)
{
	double		z,
				lf,
				u,
				val;
	int			sign;

	*ok = 1;
	if (t == 0.0)
		return 0.0;
	if (fabs(a - 1.0) < 1e-7)
	{
		double		hi = BgnbdBracket(r, alpha, 1.0 + 1e-6, b, x, T, t, ok);
		double		lo = BgnbdBracket(r, alpha, 1.0 - 1e-6, b, x, T, t, ok);

		return 0.5 * (hi + lo);
	}
	z = t / (alpha + T + t);
	lf = churn_log_hyp2f1(r + x, b + x, a + b + x - 1.0, z, &sign, ok);
	if (!*ok)
		return NAN;
	u = (r + x) * (log(alpha + T) - log(alpha + T + t)) + lf;
	if (sign > 0)
		val = -expm1(u);
	else if (sign < 0)
		val = 1.0 + exp(u);
	else
		val = 1.0;
	return (a + b + x - 1.0) / (a - 1.0) * val;
}

/* E[Y(t) | x, t_x, T]: expected purchases in the next t periods (FHL 2005 eq. 10). */
double
bgnbd_expected_value(const BgnbdParams *m, double t, double x, double t_x, double T, int *ok)
{
	double		bracket = BgnbdBracket(m->r, m->alpha, m->a, m->b, x, T, t, ok);

	if (!*ok)
		return NAN;
	return bgnbd_p_alive_value(m, x, t_x, T) * bracket;
}

/* E[X(t)]: expected purchases in (0, t] of a new customer (FHL 2005 eq. 7). */
double
bgnbd_unconditional_value(const BgnbdParams *m, double t, int *ok)
{
	return BgnbdBracket(m->r, m->alpha, m->a, m->b, 0.0, 0.0, t, ok);
}

/*
 * MBG/NBD (Batislam, Denizel & Filiztekin 2007): as BG/NBD, but a customer may
 * also drop out at the first purchase, so x = 0 does not mean alive.
 *   P(alive) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x))
 * evaluated in log space like the BG/NBD one.
 */
double
mbgnbd_p_alive_value(const BgnbdParams *m, double x, double t_x, double T)
{
	double		lo = log(m->a) - log(m->b + x)
		+ (m->r + x) * (log(m->alpha + T) - log(m->alpha + t_x));

	if (lo > 0.0)
		return exp(-lo) / (1.0 + exp(-lo));
	return 1.0 / (1.0 + exp(lo));
}

/*
 * E[Y(t) | x, t_x, T] = P(alive) (a+b+x)/(a-1)
 *   [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; t/(alpha+T+t))],
 * which is the BG/NBD bracket with b + 1 in place of b.
 */
double
mbgnbd_expected_value(const BgnbdParams *m, double t, double x, double t_x, double T, int *ok)
{
	double		bracket = BgnbdBracket(m->r, m->alpha, m->a, m->b + 1.0, x, T, t, ok);

	if (!*ok)
		return NAN;
	return mbgnbd_p_alive_value(m, x, t_x, T) * bracket;
}

/*
 * E[X(t)] of a new customer: the conditional form at x = t_x = T = 0, i.e.
 * b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))].  Derived
 * from E[(1-p)/p (1 - exp(-lambda p t))]; the paper and lifetimes print
 * (b+1)/(a-1) in front, which disagrees with their own P(alive) at T = 0.
 */
double
mbgnbd_unconditional_value(const BgnbdParams *m, double t, int *ok)
{
	return mbgnbd_expected_value(m, t, 0.0, 0.0, 0.0, ok);
}

/* ------------------------------------------------------------------------
 * Gamma-Gamma
 * ------------------------------------------------------------------------ */

/*
 * Log-likelihood of the Gamma-Gamma spend model for customers with x >= 1
 * repeat purchases of mean value m (FHL 2005 RFM/CLV, as in lifetimes):
 *   -lbeta(p x, q) + q log(gamma) + (p x - 1) log(m) + p x log(x)
 *   - (p x + q) log(gamma + x m)
 * lbeta is the stable form; gradient with respect to (log p, log q, log gamma).
 * Points sorted by x share the x-dependent lbeta and digamma terms.
 */
double
gg_log_likelihood(const GgParams *mp, const GgPoint *pts, size_t npts, double *grad,
				  ChurnInterruptFn interrupt)
{
	const double p = mp->p,
				q = mp->q,
				g = mp->gamma;
	const double log_g = log(g);
	double		ll = 0.0,
				gp = 0.0,
				gq = 0.0,
				gg = 0.0;
	double		cur_x = -1.0,
				lx = 0.0,
				lb = 0.0,
				dpq = 0.0,
				dqp = 0.0;
	size_t		i;

	for (i = 0; i < npts; i++)
	{
		const GgPoint *pt = &pts[i];
		double		x = pt->x,
					m = pt->m,
					px = p * x;
		double		lgxm = log(g + x * m);
		double		lm = log(m);

		if (interrupt && (i % INTERRUPT_EVERY) == INTERRUPT_EVERY - 1)
			interrupt();
		if (x != cur_x)
		{
			/* terms that depend on x only, shared by the points sorted by x */
			cur_x = x;
			lx = log(x);
			lb = churn_lbeta(px, q);
			if (grad)
			{
				dpq = DigammaDiff(px, q);
				dqp = DigammaDiff(q, px);
			}
		}
		ll += pt->n * (-lb + q * log_g + (px - 1.0) * lm + px * lx - (px + q) * lgxm);
		if (grad)
		{
			gp += pt->n * x * (dpq + lm + lx - lgxm);
			gq += pt->n * (dqp + log_g - lgxm);
			gg += pt->n * (q / g - (px + q) / (g + x * m));
		}
	}
	if (grad)
	{
		grad[0] = gp * p;
		grad[1] = gq * q;
		grad[2] = gg * g;
	}
	return ll;
}

typedef struct GgObjective
{
	const GgPoint *pts;
	size_t		npts;
	double		total;
	ChurnInterruptFn interrupt;
} GgObjective;

static double
GgObjectiveFn(const double *theta, double *grad, void *arg)
{
	GgObjective *o = (GgObjective *) arg;
	GgParams m;
	double		ll;
	int			i;

	m.p = exp(theta[0]);
	m.q = exp(theta[1]);
	m.gamma = exp(theta[2]);
	ll = gg_log_likelihood(&m, o->pts, o->npts, grad, o->interrupt);
	if (!isfinite(ll))
		return INFINITY;
	for (i = 0; i < 3; i++)
	{
		grad[i] = -grad[i] / o->total;
		if (!isfinite(grad[i]))
			return INFINITY;
	}
	return -ll / o->total;
}

/*
 * Maximum-likelihood Gamma-Gamma fit from several starting points (in units
 * where the mean spend is 1), keeping the best converged one.  The spends are
 * rescaled in place during the fit and restored (to rounding) afterwards.
 */
ChurnFitResult
gg_fit_points(GgPoint *pts, size_t npts, GgParams *out, ChurnInterruptFn interrupt)
{
	static const double starts[][3] = {
		{1.0, 1.0, 1.0}, {5.0, 4.0, 3.0}, {0.5, 2.0, 0.5}, {20.0, 10.0, 10.0}, {2.0, 20.0, 40.0}
	};
	ChurnFitResult best;
	GgObjective obj;
	double		total = 0.0,
				summ = 0.0,
				scale;
	size_t		i;
	int			s;

	memset(&best, 0, sizeof(best));
	best.status = CHURN_FIT_NO_CONVERGENCE;
	best.log_likelihood = -INFINITY;
	best.diverged_param = -1;

	for (i = 0; i < npts; i++)
	{
		total += pts[i].n;
		summ += pts[i].n * pts[i].m;
	}
	scale = (summ > 0.0) ? summ / total : 1.0;
	for (i = 0; i < npts; i++)
		pts[i].m /= scale;

	obj.pts = pts;
	obj.npts = npts;
	obj.total = total;
	obj.interrupt = interrupt;
	for (s = 0; s < (int) (sizeof(starts) / sizeof(starts[0])); s++)
	{
		double		theta[3];
		ChurnFitResult res;
		int			k;

		for (k = 0; k < 3; k++)
			theta[k] = log(starts[s][k]);
		res = Bfgs(GgObjectiveFn, &obj, 3, theta, interrupt);
		if (best.status != CHURN_FIT_OK ?
			(res.status == CHURN_FIT_OK || res.log_likelihood > best.log_likelihood) :
			(res.status == CHURN_FIT_OK && res.log_likelihood > best.log_likelihood + 1e-12))
		{
			best = res;
			out->p = exp(theta[0]);
			out->q = exp(theta[1]);
			out->gamma = exp(theta[2]) * scale;
		}
	}
	for (i = 0; i < npts; i++)
		pts[i].m *= scale;
	if (best.status == CHURN_FIT_OK)
		best.log_likelihood = gg_log_likelihood(out, pts, npts, NULL, interrupt);
	return best;
}

/*
 * Whether E[Z | x, zbar] exists: the posterior of the spend rate is
 * Gamma(p x + q, gamma + x zbar), so the mean spend p / nu has a finite
 * expectation only for p x + q > 1 (for a new customer, x = 0: q > 1).  A
 * model with q <= 1 is valid; the value it cannot give is NULL, not an error,
 * since scores are computed inside writers' statements.
 */
int
gg_value_exists(const GgParams *m, double x)
{
	return m->p * x + m->q - 1.0 > 0.0;
}

/*
 * E[Z | x, zbar] = (q - 1)/(p x + q - 1) * p gamma/(q - 1) + p x/(p x + q - 1) * zbar
 *               = p (gamma + x zbar) / (p x + q - 1); needs p x + q > 1 (checked by the caller).
 */
double
gg_expected_value(const GgParams *m, double x, double zbar)
{
	return m->p * (m->gamma + x * zbar) / (m->p * x + m->q - 1.0);
}

/*
 * Customer lifetime value over horizon periods at discount_rate per period:
 *   E[Z | x, zbar] * sum_k (E[Y(t_k)] - E[Y(t_(k-1))]) / (1 + d)^t_k,
 * t_k = min(k, horizon), k = 1 .. ceil(horizon): the purchases expected in
 * each period, valued at the expected spend and discounted from the period's
 * end.  Without discounting the sum is E[Y(horizon)], computed at once.
 * expected is E[Y(t) | x, t_x, T] of the purchase model (BG/NBD or MBG/NBD).
 */
double
churn_clv_value_of(ChurnExpectedFn expected, const BgnbdParams *bg, const GgParams *gg, double x,
				   double t_x, double T, double zbar, double horizon, double discount_rate, int *ok)
{
	double		value = gg_expected_value(gg, x, zbar);
	double		total = 0.0,
				prev = 0.0;
	double		k;

	*ok = 1;
	if (discount_rate == 0.0)
	{
		/* undiscounted, the per-period increments telescope to E[Y(horizon)] */
		double		e = expected(bg, horizon, x, t_x, T, ok);

		return *ok ? value * e : NAN;
	}
	for (k = 1.0; k - 1.0 < horizon; k += 1.0)
	{
		double		tk = fmin(k, horizon);
		double		e = expected(bg, tk, x, t_x, T, ok);

		if (!*ok)
			return NAN;
		total += (e - prev) / pow(1.0 + discount_rate, tk);
		prev = e;
	}
	return value * total;
}

/* CLV with the BG/NBD forecast. */
double
churn_clv_value(const BgnbdParams *bg, const GgParams *gg, double x, double t_x, double T,
				double zbar, double horizon, double discount_rate, int *ok)
{
	return churn_clv_value_of(bgnbd_expected_value, bg, gg, x, t_x, T, zbar, horizon, discount_rate, ok);
}
