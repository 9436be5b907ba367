/*
 * churn_math.h: the numerical core of the churn model, free of PostgreSQL.
 *
 * BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"),
 * MBG/NBD (Batislam, Denizel & Filiztekin 2007) and Gamma-Gamma (Fader,
 * Hardie & Lee 2005, "RFM and CLV: using iso-value curves"):
 * log-likelihoods with analytic gradients, a BFGS maximiser on
 * log-parameters, the Gaussian hypergeometric function 2F1, and the scoring
 * formulas.  Nothing here allocates; an optional callback lets the caller
 * cancel long loops (the backend passes one that runs CHECK_FOR_INTERRUPTS).
 */
#ifndef CHURN_MATH_H
#define CHURN_MATH_H

#include <stddef.h>

/* One compressed BG/NBD data point: n customers with the same (x, t_x, T). */
typedef struct BgnbdPoint
{
	double		x;				/* repeat purchases, a whole number >= 0 */
	double		t_x;			/* time of the last repeat purchase, 0 if x = 0 */
	double		T;				/* time from the first purchase to the end */
	double		n;				/* how many customers share these values */
} BgnbdPoint;

/* One compressed Gamma-Gamma data point: n customers with the same (x, zbar). */
typedef struct GgPoint
{
	double		x;				/* repeat purchases, >= 1 */
	double		m;				/* mean value of those purchases, > 0 */
	double		n;
} GgPoint;

typedef struct BgnbdParams
{
	double		r;
	double		alpha;
	double		a;
	double		b;
} BgnbdParams;

typedef struct GgParams
{
	double		p;
	double		q;
	double		gamma;
} GgParams;

/* Outcome of a fit. */
typedef enum ChurnFitStatus
{
	CHURN_FIT_OK = 0,
	CHURN_FIT_DIVERGED,			/* a parameter ran to 0 or infinity */
	CHURN_FIT_NO_CONVERGENCE,	/* iteration limit reached */
	CHURN_FIT_NO_DROPOUT		/* BG/NBD, MBG/NBD: at the no-dropout boundary (a/(a+b) -> 0) */
} ChurnFitStatus;

typedef struct ChurnFitResult
{
	ChurnFitStatus status;
	double		log_likelihood;
	int			iterations;
	int			diverged_param; /* index of the parameter that diverged */
	/* CHURN_FIT_NO_DROPOUT: what the check saw */
	double		dropout_mean;	/* a/(a+b) of the fit */
	double		expected_dropouts;	/* dropouts the fit expects among the calibration purchases */
	double		limit_log_likelihood;	/* log-likelihood of the fitted no-dropout (NBD) model */
} ChurnFitResult;

/* Called often during long loops; may longjmp out (query cancel). */
typedef void (*ChurnInterruptFn) (void);

/* Special functions */
extern double churn_digamma(double x);
extern double churn_lbeta(double a, double b);
extern double churn_log_hyp2f1(double a, double b, double c, double z, int *sign, int *ok);
extern double churn_hyp2f1(double a, double b, double c, double z, int *ok);

/* BG/NBD */
extern double bgnbd_log_likelihood(const BgnbdParams *m, const BgnbdPoint *pts, size_t npts,
								   double *grad, ChurnInterruptFn interrupt);
extern ChurnFitResult bgnbd_fit_points(BgnbdPoint *pts, size_t npts, BgnbdParams *out,
									   ChurnInterruptFn interrupt);
extern double bgnbd_p_alive_value(const BgnbdParams *m, double x, double t_x, double T);
extern double bgnbd_expected_value(const BgnbdParams *m, double t, double x, double t_x, double T,
								   int *ok);
extern double bgnbd_unconditional_value(const BgnbdParams *m, double t, int *ok);

/* MBG/NBD: same parameters as BG/NBD */
extern double mbgnbd_log_likelihood(const BgnbdParams *m, const BgnbdPoint *pts, size_t npts,
									double *grad, ChurnInterruptFn interrupt);
extern ChurnFitResult mbgnbd_fit_points(BgnbdPoint *pts, size_t npts, BgnbdParams *out,
										ChurnInterruptFn interrupt);
extern double mbgnbd_p_alive_value(const BgnbdParams *m, double x, double t_x, double T);
extern double mbgnbd_expected_value(const BgnbdParams *m, double t, double x, double t_x, double T,
									int *ok);
extern double mbgnbd_unconditional_value(const BgnbdParams *m, double t, int *ok);

/* Gamma-Gamma */
extern double gg_log_likelihood(const GgParams *m, const GgPoint *pts, size_t npts, double *grad,
								ChurnInterruptFn interrupt);
extern ChurnFitResult gg_fit_points(GgPoint *pts, size_t npts, GgParams *out,
									ChurnInterruptFn interrupt);
extern int gg_value_exists(const GgParams *m, double x);
extern double gg_expected_value(const GgParams *m, double x, double zbar);
/* E[Y(t) | x, t_x, T] of a purchase model: bgnbd_expected_value or mbgnbd_expected_value */
typedef double (*ChurnExpectedFn) (const BgnbdParams *m, double t, double x, double t_x, double T, int *ok);
extern double churn_clv_value_of(ChurnExpectedFn expected, const BgnbdParams *bg, const GgParams *gg,
								 double x, double t_x, double T, double zbar, double horizon,
								 double discount_rate, int *ok);
extern double churn_clv_value(const BgnbdParams *bg, const GgParams *gg, double x, double t_x,
							  double T, double zbar, double horizon, double discount_rate, int *ok);

#endif							/* CHURN_MATH_H */
