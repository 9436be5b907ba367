/*
 * churn_predict.h: scoring one customer under a stored churn model, for
 * churn_predict() and for model_values(), which scores its own batch from
 * the facts it reads anyway (churn_predict.c).
 */
#ifndef TAGSCRM_CHURN_PREDICT_H
#define TAGSCRM_CHURN_PREDICT_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "churn_math.h"

/* The parts of a stored model (and the settings) a prediction needs. */
typedef struct PredictModel
{
	bool		mbgnbd;			/* kind 'mbgnbd', else BG/NBD */
	BgnbdParams purchases;
	GgParams	spend;
	double		unit_secs;		/* the model period, in seconds */
	double		high;			/* settings.churn_high, churn_medium */
	double		medium;
} PredictModel;

/* A customer's purchase days summarised in model periods */
typedef struct PurchaseSummary
{
	double		x;				/* repeat purchase days */
	double		t_x;			/* first to last purchase */
	double		T;				/* first purchase to now */
	double		zbar;			/* mean value of the repeat purchase days */
} PurchaseSummary;

extern bool ReadPredictModel(const char *schema, text *name, PredictModel *m);
extern PurchaseSummary SummarisePurchases(const PredictModel *m, TimestampTz now, TimestampTz first,
										  TimestampTz last, int64 days, double total, double first_amount);
extern double PAlive(const PredictModel *m, const PurchaseSummary *p);
extern const char *RiskClass(const PredictModel *m, TimestampTz first, const PurchaseSummary *p,
							 double p_alive, bool *changes, TimestampTz *changes_at);

#endif
